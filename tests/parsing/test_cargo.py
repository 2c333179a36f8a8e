from __future__ import annotations

import pytest

from allocpolicy.parsing.cargo import BIG_TOML, ManifestError, load_toml


def test_large_toml_is_cached_by_content_and_stays_correct(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    members = ", ".join(f'"services/svc{i:05d}"' for i in range(BIG_TOML // 20))
    text = f"[workspace]\nmembers = [{members}]\n"
    first = load_toml(text)
    [cached] = list((tmp_path / "allocpolicy" / "toml").glob("*-value-*.marshal"))
    assert load_toml(text) == first and len(first["workspace"]["members"]) == BIG_TOML // 20
    changed = text.replace("svc00001", "renamed")
    assert "services/renamed" in load_toml(changed)["workspace"]["members"]
    assert cached.exists()


def test_large_broken_toml_still_reports_its_line(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    text = "# pad\n" * (BIG_TOML // 6 + 1) + "[package\n"
    with pytest.raises(ManifestError) as exc:
        load_toml(text)
    assert exc.value.line == BIG_TOML // 6 + 2


def test_large_toml_with_dates_is_read_but_not_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    text = "when = 1979-05-27\n" + "# pad\n" * (BIG_TOML // 6 + 1)
    assert str(load_toml(text)["when"]) == "1979-05-27"
    assert not list((tmp_path / "allocpolicy" / "toml").glob("*-value-*.marshal"))


def test_a_corrupt_cache_entry_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    text = "[workspace]\nmembers = [" + ", ".join(f'"m{i}"' for i in range(BIG_TOML // 5)) + "]\n"
    first = load_toml(text)
    [cached] = list((tmp_path / "allocpolicy" / "toml").glob("*-value-*.marshal"))
    cached.write_bytes(b"\x00garbage")
    assert load_toml(text) == first


def test_large_manifest_line_numbers_come_from_the_cache_unchanged(tmp_path, monkeypatch):
    from allocpolicy.parsing.cargo import parse_manifest

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    members = "\n".join(f'    "services/svc{i:05d}",' for i in range(BIG_TOML // 24))
    text = f'[workspace]\nmembers = [\n{members}\n]\n\n[workspace.dependencies]\nmimalloc = {{ version = "0.1" }}\n'
    first = parse_manifest("Cargo.toml", text).workspace_dependencies["mimalloc"].line
    assert first == text.splitlines().index('mimalloc = { version = "0.1" }') + 1
    assert list((tmp_path / "allocpolicy" / "toml").glob("*-lines-*.marshal"))
    assert parse_manifest("Cargo.toml", text).workspace_dependencies["mimalloc"].line == first
    moved = "# a new first line\n" + text
    assert parse_manifest("Cargo.toml", moved).workspace_dependencies["mimalloc"].line == first + 1
