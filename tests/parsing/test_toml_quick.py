"""The tomllib-free reader must agree with tomllib on everything it accepts."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocpolicy.parsing.cargo import load_toml
from allocpolicy.parsing.toml_quick import quick_loads

ROOT = Path(__file__).resolve().parents[2]


def _agrees(text: str) -> dict | None:
    """quick_loads' answer, after checking it is tomllib's (or a decline)."""
    quick = quick_loads(text)
    try:
        full = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        assert quick is None, f"accepted invalid TOML: {text!r}"
        return None
    if quick is not None:
        assert quick == full, text
        assert _types(quick) == _types(full), text  # True is not 1
    return quick


def _types(value: object) -> object:
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value).__name__


LINES = st.sampled_from([
    "[package]", "[dependencies]", "[dependencies.mimalloc]", "[target.'cfg(target_env = \"musl\")'.dependencies]",
    "[[bin]]", "[[bin]]  # a second one", "[workspace]", "[workspace.dependencies]", "[a.b]", "[a]", "[a.b.c]",
    "[ a . b ]", "[[a.b]]", "[[a]]", "[x]]", "[\"quoted key\"]", "[features]", "[profile.release]",
    'name = "svc"', "name = 'literal \\ path'", 'version = "0.1"', "edition = \"2021\"", "publish = false",
    "autobins = true", "opt-level = 3", "opt-level = -1", "n = +7", "n = 007", "n = 1_000", "n = 1.5", "n = 1e3",
    "n = 0x1F", "when = 1979-05-27", "ok = trueish", "b.c = 1", "b.d = \"x\"", "a.b = 2", "'quoted'.k = 1",
    'mimalloc = { version = "0.1", default-features = false }', 'x = { a.b = 1, a.c = [1, 2] }',
    "x = { a = 1, }", "x = { }", "x = {a=1,b={c=true}}", 'members = ["a", "b",]', "members = [\n  \"a\",  # c\n  \"b\"\n]",
    "members = [ ]", "members = [,]", "m = [[1, 2], ['x'], {a = 1}]", 'path = "C:\\\\x"', 'esc = "a\\"b"',
    's = """multi"""', "s = '''lit'''", "dup = 1", "dup = 2", "# comment", "   # indented comment", "",
    "key = \"tab\there\"", "bad = \"ctl\x01\"", "# ctl \x7f in comment", "k = 1 k2 = 2", "= 1", "k =", "k = \"open",
    "x = {a = 1\n}", "k = \"ünïcödé ✓\"", "k = 'lone \udcff surrogate'", "# lone \udcff", "ü = 1", "a = {b = 1}", "[a.b]\nc = 1", "1234 = 5",
])


@settings(max_examples=800, deadline=None)
@given(st.lists(LINES, max_size=12), st.sampled_from(["\n", "\r\n"]), st.booleans())
def test_agrees_with_tomllib(lines: list[str], newline: str, final_newline: bool) -> None:
    text = newline.join(lines) + (newline if final_newline else "")
    _agrees(text)


GOOD_LINES = st.sampled_from([
    "[package]", "[dependencies]", "[[bin]]", "[a.b]", "[a]", "[a.b.c]", "[target.'cfg(unix)'.dependencies]",
    'name = "svc"', "n = -3", "flag = true", "b.c = 1", "b.d = 'x'", 'm = { version = "0.1", features = ["a"] }',
    "m = [\n  'a', # c\n  'b',\n]", "", "# c",
])


@settings(max_examples=500, deadline=None)
@given(st.lists(GOOD_LINES, max_size=10))
def test_agrees_with_tomllib_on_cargo_like_documents(lines: list[str]) -> None:
    _agrees("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    "text",
    [
        "[a.b]\nx = 1\n[a]\ny = 2\n",  # a header may define a table an earlier one implied
        "[[bin]]\nname = 'a'\n[[bin]]\nname = 'b'\n",
        "[package]\nmetadata.allocpolicy.profile = 'simple'\nmetadata.other = 1\n",
        "a = [\n  1, # one\n  2,\n]\r\nb = 'x'\r\n",
        "",
    ],
)
def test_accepts_the_common_shapes(text: str) -> None:
    assert _agrees(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "[a]\nb.c = 1\n[a.b]\n",  # a dotted-key table reopened by a header
        "[a.b]\n[a]\nb.c = 1\n",  # a header table extended by dotted keys
        "a = {b = 1}\n[a.c]\n",  # inline tables are closed
        "[a]\n[a]\n",
        "a = 1\na = 2\n",
        "a = []\n[[a]]\n",
        "a = 1\r",
        "a = 1 # x\r",
        "\ufeffa = 1\n",
    ],
)
def test_declines_what_only_the_full_rules_decide(text: str) -> None:
    assert quick_loads(text) is None


def test_deep_nesting_declines_instead_of_crashing() -> None:
    assert quick_loads("a = " + "[" * 5000 + "]" * 5000) is None


def _corpus() -> list[Path]:
    wanted = ("Cargo.toml", "config.toml", "rust-toolchain.toml", ".allocpolicy.toml")
    return sorted(p for p in ROOT.glob("**/*.toml") if p.name in wanted and ".git" not in p.parts)


def test_every_bundled_cargo_file_agrees_and_the_fast_path_takes_most() -> None:
    files = _corpus()
    taken = [p for p in files if _agrees(p.read_text(encoding="utf-8")) is not None]
    assert files and len(taken) >= 0.9 * len(files), sorted(set(files) - set(taken))


def test_synthetic_benchmark_manifests_take_the_fast_path(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import synth
    finally:
        sys.path.pop(0)
    repo = synth.generate(tmp_path / "r", 12, git=False)
    for manifest in sorted(repo.root.glob("**/Cargo.toml")):
        assert _agrees(manifest.read_text(encoding="utf-8")) is not None, manifest


def test_a_scan_of_common_manifests_does_not_import_tomllib() -> None:
    code = (
        "import sys\n"
        "from allocpolicy.parsing.cargo import load_toml\n"
        "assert load_toml('[package]\\nname = \"a\"\\n') == {'package': {'name': 'a'}}\n"
        "assert 'tomllib' not in sys.modules\n"
        "load_toml('a = 1.5\\n')\n"
        "assert 'tomllib' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_errors_still_come_from_tomllib_with_their_line() -> None:
    from allocpolicy.parsing.cargo import ManifestError

    with pytest.raises(ManifestError) as err:
        load_toml("[package]\nname = 'a'\nname = 'b'\n")
    assert err.value.line == 3
