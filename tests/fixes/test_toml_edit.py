"""New TOML lines land after the table's last key: never under the comment that
introduces the next table, never after a sub-table."""

from __future__ import annotations

import os

import pytest
import tomllib
from hypothesis import given, settings
from hypothesis import strategies as st

from allocpolicy.fixes.toml_edit import AddKey, add_keys_on_lines, put_key, table_at, toml_after

CASES = [
    (  # the comment above [features] belongs to [features]
        '[dependencies]\nserde = "1"\n\n# Optional extras\n[features]\nx = []\n',
        '[dependencies]\nserde = "1"\nmimalloc = "0.1"\n\n# Optional extras\n[features]\nx = []\n',
    ),
    (  # dotted keys are keys
        '[dependencies]\njem.version = "0.5"\njem.optional = true\n# next\n[features]\n',
        '[dependencies]\njem.version = "0.5"\njem.optional = true\nmimalloc = "0.1"\n'
        "# next\n[features]\n",
    ),
    (  # a sub-table is not: the key stays in [dependencies] itself
        '[dependencies]\nserde = "1"\n\n[dependencies.foo]\nversion = "1"\n',
        '[dependencies]\nserde = "1"\nmimalloc = "0.1"\n\n[dependencies.foo]\nversion = "1"\n',
    ),
    (  # an empty table: right under its header
        "[dependencies]\n# none yet\n\n[features]\n",
        '[dependencies]\nmimalloc = "0.1"\n# none yet\n\n[features]\n',
    ),
    (  # the last table of the file: appended
        '[dependencies]\nserde = "1"\n',
        '[dependencies]\nserde = "1"\nmimalloc = "0.1"\n',
    ),
]


@pytest.mark.parametrize(("before", "after"), CASES)
def test_a_new_key_goes_after_the_tables_last_key(before: str, after: str) -> None:
    def change(doc: object) -> bool:
        put_key(table_at(doc, ("dependencies",)), "mimalloc", "0.1")
        return True

    assert toml_after(before, change) == after


# -- keys added on lines, without tomlkit ------------------------------------------
# The line path must write exactly what tomlkit writes, or decline.

MIMALLOC = AddKey(("dependencies",), "mimalloc", (("version", "0.1"), ("default_features", False)))
INHERIT = AddKey(("dependencies",), "mimalloc", (("workspace", True),))


def _tomlkit(text: str, adds: list[AddKey]) -> str | None:
    return toml_after(text, lambda doc: any([a(doc) for a in adds]))


def _lines(text: str, adds: list[AddKey]) -> str | None:
    return add_keys_on_lines(text, tomllib.loads(text), adds)


@pytest.mark.parametrize(("before", "_after"), CASES)
def test_the_line_path_answers_the_usual_shapes_as_tomlkit_does(before: str, _after: str) -> None:
    assert _lines(before, [MIMALLOC]) is not None
    assert _lines(before, [MIMALLOC]) == _tomlkit(before, [MIMALLOC])


def test_a_workspace_root_that_is_also_the_package_gets_both_keys_in_one_pass() -> None:
    text = (
        '[package]\nname = "a"\n\n[workspace]\nmembers = ["x"]\n\n'
        '[workspace.dependencies]\nserde = "1"\n\n[dependencies]\nserde.workspace = true\n'
    )
    ws = AddKey(("workspace", "dependencies"), "mimalloc", MIMALLOC.items)
    new = _lines(text, [ws, INHERIT])
    assert new is not None and new == _tomlkit(text, [ws, INHERIT])
    assert tomllib.loads(new)["dependencies"]["mimalloc"] == {"workspace": True}


DECLINED = {
    "no such table": '[package]\nname = "a"\n',
    "an array of tables": '[[dependencies]]\nx = "1"\n',
    "indented keys": '[dependencies]\n  serde = "1"\n',
    "a multi-line string ends the table": '[dependencies]\nx = """\nline\n"""\n',
    "only dotted keys make the table": 'dependencies.serde = "1"\n',
    "its sub-table comes after another table": (
        '[dependencies]\nx = "1"\n[package]\nname = "a"\n[dependencies.sub]\nversion = "1"\n'
    ),
}


@pytest.mark.parametrize("text", DECLINED.values(), ids=DECLINED.keys())
def test_the_line_path_declines_what_it_cannot_prove(text: str) -> None:
    assert _lines(text, [MIMALLOC]) is None


def test_a_key_already_there_changes_nothing() -> None:
    text = '[dependencies]\nmimalloc = "0.2"\n'
    assert _lines(text, [MIMALLOC]) == text


def test_a_value_it_cannot_spell_goes_to_tomlkit() -> None:
    odd = AddKey(("dependencies",), "mimalloc", (("version", 'a"b'),))
    assert _lines('[dependencies]\nx = "1"\n', [odd]) is None


keys = st.sampled_from(["serde", "tokio", "x-y", "jem.version", "jem.optional", '"quoted"'])
values = st.sampled_from(['"1"', "true", '{ version = "1" }', '[\n  "a",\n  "b",\n]', "'lit'"])
blank_or_comment = st.sampled_from(["", "# c", "  # indented comment", "#[features]"])


@st.composite
def manifests(draw: st.DrawFn) -> str:
    """Cargo.toml-like documents: [dependencies] among other tables, keys, comments,
    blank lines, sub-tables, with or without a final newline or CRLF."""
    out: list[str] = []
    tables = draw(
        st.permutations(["[package]", "[dependencies]", "[features]", "[dependencies.sub]"])
    )
    if "[dependencies.sub]" in tables and tables.index("[dependencies.sub]") < tables.index(
        "[dependencies]"
    ):
        tables.remove("[dependencies.sub]")  # tomllib: a sub-table before its parent is fine,
        tables.append("[dependencies.sub]")  # but keep the shapes people write
    for header in tables:
        out += draw(st.lists(blank_or_comment, max_size=2))
        out.append(header)
        used: set[str] = set()
        for key, value in draw(st.lists(st.tuples(keys, values), max_size=3)):
            base = key.split(".")[0]
            if base in used or (key.startswith("jem") and "jem" in used):
                continue
            used.add(base)
            out.append(f"{key} = {value}")
            out += draw(st.lists(blank_or_comment, max_size=1))
    text = "\n".join(out)
    text += draw(st.sampled_from(["\n", "", "\n\n"]))
    return text.replace("\n", "\r\n") if draw(st.booleans()) else text


@given(manifests(), st.sampled_from([MIMALLOC, INHERIT]))
@settings(max_examples=int(os.environ.get("TOML_EXAMPLES", 300)), deadline=None)
def test_the_line_path_equals_tomlkit_wherever_it_answers(text: str, add: AddKey) -> None:
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return  # the generator's dotted keys can clash; not a manifest
    mine = _lines(text, [add])
    if mine is not None:
        assert mine.splitlines() == (_tomlkit(text, [add]) or text).splitlines()
