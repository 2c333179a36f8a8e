from __future__ import annotations

import pytest

from allocpolicy.parsing.cargo import BIG_TOML, ManifestError, load_toml


def test_large_toml_is_cached_by_content_and_stays_correct(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    members = ", ".join(f'"services/svc{i:05d}"' for i in range(BIG_TOML // 20))
    text = f"[workspace]\nmembers = [{members}]\n"
    first = load_toml(text)
    [cached] = list((tmp_path / "allocpolicy" / "toml").glob("*.marshal"))
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
    assert not list((tmp_path / "allocpolicy" / "toml").glob("*.marshal"))


def test_a_corrupt_cache_entry_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    text = "[workspace]\nmembers = [" + ", ".join(f'"m{i}"' for i in range(BIG_TOML // 5)) + "]\n"
    first = load_toml(text)
    [cached] = list((tmp_path / "allocpolicy" / "toml").glob("*.marshal"))
    cached.write_bytes(b"\x00garbage")
    assert load_toml(text) == first
