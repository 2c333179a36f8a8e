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


def test_a_manifest_read_before_is_not_parsed_again(tmp_path, monkeypatch):
    """The second read of an unchanged manifest comes from the cache: tomllib is not even imported."""
    import subprocess
    import sys

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    text = '[package]\nname = "svc"\nversion = "0.1.0"\n\n[dependencies]\nmimalloc = { version = "0.1", default-features = false }\n'
    code = (
        "import sys\nfrom allocpolicy.parsing.cargo import parse_manifest\n"
        f"m = parse_manifest('Cargo.toml', {text!r})\n"
        "print(m.package, [d.key for d in m.dependencies], 'tomllib' in sys.modules)\n"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    ]
    assert runs == ["svc ['mimalloc'] True\n", "svc ['mimalloc'] False\n"]
    edited = text.replace('"0.1.0"', '"0.2.0"')
    assert load_toml(edited, cache=True)["package"]["version"] == "0.2.0"


def test_a_cache_entry_for_other_content_is_never_used(tmp_path, monkeypatch):
    import marshal

    from allocpolicy.parsing import cargo

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    text = '[package]\nname = "real"\n'
    path = cargo._cache_path(text, "value")
    path.parent.mkdir(parents=True)
    path.write_bytes(marshal.dumps(("[package]\nname = 'other'\n", {"package": {"name": "other"}})))
    assert load_toml(text, cache=True) == {"package": {"name": "real"}}


def _entries(folder):
    return [p for p in folder.iterdir() if not p.name.startswith(".")]


def test_the_toml_cache_keeps_to_its_entry_limit_and_still_hits(tmp_path, monkeypatch):
    from allocpolicy import usercache
    from allocpolicy.parsing import cargo

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(usercache, "MAX_ENTRIES", 10)
    folder = tmp_path / "allocpolicy" / "toml"
    texts = [f'[package]\nname = "svc{i}"\n' for i in range(25)]
    for text in texts:
        load_toml(text, cache=True)
        assert 0 < len(_entries(folder)) <= 10
    monkeypatch.setattr(cargo, "_parse_toml", lambda text: pytest.fail("parsed, not cached"))
    assert load_toml(texts[-1], cache=True) == {"package": {"name": "svc24"}}


def test_the_toml_cache_keeps_to_its_byte_limit_evicting_the_oldest(tmp_path, monkeypatch):
    import os

    from allocpolicy import usercache
    from allocpolicy.parsing import cargo

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(usercache, "MAX_BYTES", 4000)
    folder = tmp_path / "allocpolicy" / "toml"
    texts = [f'[package]\nname = "svc{i}"\ndescription = "{"x" * 300}"\n' for i in range(30)]
    for i, text in enumerate(texts):
        load_toml(text, cache=True)
        second = (i + 1) * 10**9
        os.utime(cargo._cache_path(text, "value"), ns=(second, second))  # distinct, in order
        assert sum(p.stat().st_size for p in _entries(folder)) <= 4000
    kept = [cargo._cache_path(text, "value").exists() for text in texts]
    assert kept[-1] and not kept[0]
    assert kept == sorted(kept)  # the oldest went first


def test_a_deleted_or_damaged_usage_count_is_counted_again(tmp_path, monkeypatch):
    from allocpolicy import usercache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(usercache, "MAX_ENTRIES", 5)
    folder = tmp_path / "allocpolicy" / "toml"
    for i in range(4):
        load_toml(f'[package]\nname = "a{i}"\n', cache=True)
    (folder / ".usage").write_bytes(b"garbage")
    for i in range(4):
        load_toml(f'[package]\nname = "b{i}"\n', cache=True)
    assert len(_entries(folder)) <= 5
    (folder / ".usage").unlink()
    load_toml('[package]\nname = "c"\n', cache=True)
    assert len(_entries(folder)) <= 5
    assert (folder / ".usage").read_text().split()[0] == str(len(_entries(folder)))
