"""Whole-line edits: construction, minimal diffs, merging with conflicts, applying."""

from __future__ import annotations

from allocpolicy.fixes.edits import apply_edits, insert_before, line_diff, merge, replace_lines
from allocpolicy.model import Edit, Fix, Safety


def _fix(title: str, *edits: Edit) -> Fix:
    return Fix(title, Safety.SAFE, edits)


def test_replace_and_insert_are_whole_lines() -> None:
    assert replace_lines("f", 2, 3, ["x"]) == Edit("f", 2, 1, 4, 1, "x\n")
    assert replace_lines("f", 2, 2, []) == Edit("f", 2, 1, 3, 1, "")
    assert insert_before("f", 1, ["a", "b"]) == Edit("f", 1, 1, 1, 1, "a\nb\n")


def test_line_diff_is_minimal() -> None:
    old = ["a", "b", "", "c"]
    assert line_diff("f", old, old) is None
    assert line_diff("f", old, ["a", "b", "x", "", "c"]) == insert_before("f", 3, ["x"])
    assert line_diff("f", old, ["a", "B", "", "c"]) == replace_lines("f", 2, 2, ["B"])
    assert line_diff("f", old, ["a", "", "c"]) == replace_lines("f", 2, 2, [])


def test_apply_keeps_crlf_and_missing_final_newline() -> None:
    text = "a\r\nb\r\nc"
    assert apply_edits(text, [replace_lines("f", 2, 2, ["B"])], "\r\n") == "a\r\nB\r\nc"
    assert apply_edits(text, [replace_lines("f", 3, 3, [])], "\r\n") == "a\r\nb"
    assert apply_edits(text, [insert_before("f", 4, ["d"])], "\r\n") == "a\r\nb\r\nc\r\nd"
    assert apply_edits("a\nb\n", [insert_before("f", 3, ["c"])]) == "a\nb\nc\n"


def test_apply_several_edits_bottom_up() -> None:
    edits = [
        insert_before("f", 1, ["0"]),
        replace_lines("f", 2, 2, ["B"]),
        replace_lines("f", 3, 3, []),
    ]
    assert apply_edits("a\nb\nc\n", edits) == "0\na\nB\n"


def test_conflicting_fix_is_dropped_whole_with_a_reason() -> None:
    first = _fix("first", replace_lines("f", 2, 2, ["x"]))
    second = _fix("second", replace_lines("f", 2, 3, ["y"]), insert_before("g", 1, ["z"]))
    third = _fix("third", insert_before("f", 4, ["w"]))
    result = merge([first, second, third])
    assert result.accepted == [first, third]
    assert [(fx.title, "f:2" in why) for fx, why in result.dropped] == [("second", True)]
    assert all(e.path == "f" for e in result.edits)  # nothing of the dropped fix survives


def test_identical_edits_from_two_findings_merge_once() -> None:
    static = insert_before("src/main.rs", 1, ["#[global_allocator]"])
    a, b = _fix("AP005", static), _fix("AP003", static, insert_before("Cargo.toml", 7, ["m = 1"]))
    result = merge([a, b])
    assert result.dropped == [] and result.edits.count(static) == 1


def test_two_insertions_at_one_point_conflict() -> None:
    a, b = _fix("a", insert_before("f", 3, ["x"])), _fix("b", insert_before("f", 3, ["y"]))
    assert [fx.title for fx, _ in merge([a, b]).dropped] == ["b"]


def test_insertion_inside_a_replaced_range_conflicts_but_at_its_end_does_not() -> None:
    rep = _fix("rep", replace_lines("f", 2, 3, ["x"]))
    inside, after = (
        _fix("in", insert_before("f", 3, ["y"])),
        _fix("after", insert_before("f", 4, ["z"])),
    )
    result = merge([rep, inside, after])
    assert [fx.title for fx in result.accepted] == ["rep", "after"]
    assert apply_edits("a\nb\nc\nd\n", result.edits) == "a\nx\nz\nd\n"


def test_a_fix_whose_own_edits_overlap_is_refused() -> None:
    bad = _fix("bad", replace_lines("f", 1, 2, ["x"]), replace_lines("f", 2, 2, ["y"]))
    assert merge([bad]).dropped[0][1] == "its own edits overlap"
