"""Pure pieces of the GitHub front door: diff map, suggestions, markers, escaping, artifact."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from gh_helpers import CARGO_PATCH, f_ap001, f_ap003

from allocpolicy.frontdoors.github import artifact, markers, workflow
from allocpolicy.frontdoors.github.diffmap import parse_patch, split_git_diff
from allocpolicy.frontdoors.github.plan import RuleInfo
from allocpolicy.frontdoors.github.suggest import diff_block, fence_for, whole_line_replacement
from allocpolicy.model import Edit, Finding, Location, Severity

pytestmark = pytest.mark.github


def test_importing_the_front_door_does_not_import_pygithub():
    code = (
        "import sys, allocpolicy.frontdoors.github as g, allocpolicy.frontdoors.github.command, "
        "allocpolicy.frontdoors.github.review; assert 'github' not in sys.modules, 'PyGithub imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_parse_patch_tracks_hunks_sides_and_added_lines():
    fd = parse_patch("Cargo.toml", CARGO_PATCH + "\n@@ -20,2 +22,3 @@\n a\n+b\n c")
    assert fd.in_hunk(4) and fd.in_hunk(11) and not fd.in_hunk(12) and not fd.in_hunk(3)
    assert fd.added(7) and fd.added(8) and not fd.added(6)
    assert fd.text(7) == 'tokio = "1"' and fd.text(4) == ""
    assert fd.same_hunk(6, 8) and not fd.same_hunk(11, 22) and fd.same_hunk(22, 24)


def test_parse_patch_handles_no_newline_marker_and_stripped_blank_context():
    fd = parse_patch("a", "@@ -1,3 +1,3 @@\n x\n\n-y\n+z\n\\ No newline at end of file")
    assert sorted(fd.right) == [1, 2, 3] and fd.text(2) == "" and fd.added(3)


def test_split_git_diff_with_rename_and_new_file():
    text = (
        "diff --git a/old.rs b/new.rs\nsimilarity index 90%\nrename from old.rs\nrename to new.rs\n"
        "--- a/old.rs\n+++ b/new.rs\n@@ -1,2 +1,2 @@\n fn a() {}\n-x\n+y\n"
        "diff --git a/Dockerfile b/Dockerfile\nnew file mode 100644\n--- /dev/null\n+++ b/Dockerfile\n"
        "@@ -0,0 +1 @@\n+FROM scratch\n"
        "diff --git a/gone b/gone\ndeleted file mode 100644\n--- a/gone\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n"
    )
    files = split_git_diff(text)
    assert set(files) == {"new.rs", "Dockerfile"}
    assert (
        files["new.rs"].status == "renamed"
        and files["new.rs"].previous_path == "old.rs"
        and files["new.rs"].added(2)
    )
    assert files["Dockerfile"].status == "added" and files["Dockerfile"].text(1) == "FROM scratch"


@pytest.mark.parametrize("text,fence", [("a", "```"), ("```x```", "````"), ("a ````` b", "``````")])
def test_fence_is_longer_than_any_backtick_run(text, fence):
    assert fence_for(text) == fence


def lines(*ls):
    return lambda n: ls[n - 1] if 1 <= n <= len(ls) else None


def test_whole_line_expansion_of_a_column_edit():
    r = whole_line_replacement(
        [Edit("D", 1, 6, 1, 19, "rust:1-bookworm")], lines("FROM rust:1-alpine AS b")
    )
    assert (r.start_line, r.end_line, r.new_text) == (1, 1, "FROM rust:1-bookworm AS b")


def test_no_op_edit_gives_no_suggestion():
    assert whole_line_replacement([Edit("D", 1, 1, 1, 5, "FROM")], lines("FROM x")) is None


def test_multi_line_edit_and_deletion():
    src = lines("a", "b", "c", "d")
    r = whole_line_replacement([Edit("f", 2, 1, 3, 2, "X")], src)
    assert (r.start_line, r.end_line, r.new_text) == (2, 3, "X")
    d = whole_line_replacement([Edit("f", 2, 1, 4, 1, "")], src)
    assert (d.start_line, d.end_line, d.new_text, d.deletes) == (2, 3, "", True)
    assert d.suggestion_block() == "```suggestion\n```"


def test_suggestion_with_backticks_gets_a_longer_fence():
    r = whole_line_replacement([Edit("f", 1, 1, 1, 2, "```")], lines("x"))
    assert r.suggestion_block() == "````suggestion\n```\n````"


def test_edit_on_an_unknown_line_gives_no_suggestion():
    assert whole_line_replacement([Edit("f", 5, 1, 5, 2, "y")], lines("a")) is None
    assert (
        whole_line_replacement([Edit("f", 1, 1, 1, 2, "y"), Edit("g", 1, 1, 1, 2, "y")], lines("a"))
        is None
    )


def test_diff_block_shows_context_and_falls_back_without_source():
    src = {("m.rs", 1): "fn main() {", ("m.rs", 2): "}"}
    block = diff_block([Edit("m.rs", 1, 1, 1, 1, "use x;\n")], lambda p, n: src.get((p, n)))
    assert block.startswith("```diff\n") and "+use x;" in block and " fn main() {" in block
    blind = diff_block([Edit("m.rs", 1, 1, 1, 1, "use x;\n")], lambda p, n: None)
    assert "@@ 1:1 @@" in blind and "+use x;" in blind


def test_marker_round_trip_and_rejects_junk():
    m = markers.Marker("inline", ("0123456789abcdef",))
    assert markers.parse("hi\n" + m.render()) == m
    assert markers.parse("<!-- allocpolicy:v1 kind=evil -->") is None
    assert markers.parse("<!-- allocpolicy:v1 kind=inline fps=ZZZ state=open -->").fps == ()


def test_message_cannot_forge_a_marker():
    from allocpolicy.frontdoors.github.render import _escape_md

    assert "<!--" not in _escape_md("<!-- allocpolicy:v1 kind=summary -->")


def test_workflow_command_escaping():
    f = Finding(
        "AP001",
        "n",
        Severity.ERROR,
        Location("we,ird:path%.txt", 3, 1, 5),
        "line one\nline two 100%\r",
        snippet="",
    )
    [line] = workflow.annotation_lines([f], {"AP001": "name, with: colon"})
    assert line == (
        "::error file=we%2Cird%3Apath%25.txt,line=3,endLine=5,title=AP001 name%2C with%3A colon"
        "::line one%0Aline two 100%25%0D"
    )


def test_annotations_are_capped_per_level():
    fs = [Finding("AP001", "n", Severity.WARNING, Location("f", i), "m") for i in range(1, 15)]
    out = workflow.annotation_lines(fs)
    assert sum(1 for x in out if x.startswith("::warning")) == 10 and "4 more" in out[-1]


def test_outputs_use_a_delimiter(tmp_path):
    p = tmp_path / "out"
    workflow.write_outputs(str(p), {"a": "1", "b": "x\ny"})
    text = p.read_text()
    assert text.startswith("a<<ghadelimiter_") and "\nx\ny\n" in text


def test_artifact_round_trip_and_validation(tmp_path):
    p = tmp_path / "f.json"
    artifact.dump(
        p,
        [f_ap001(), f_ap003()],
        [],
        7,
        "a" * 40,
        {"src/main.rs": {1: "fn main() {"}},
    )
    data = artifact.load(p)
    assert [(f.rule, f.location.path, f.location.line, f.snippet) for f in data["findings"]] == [
        (f.rule, f.location.path, f.location.line, f.snippet) for f in (f_ap001(), f_ap003())
    ]
    assert data["findings"][0].fix.edits[0].replacement == "rust:1-bookworm"
    assert data["number"] == 7 and data["source"]["src/main.rs"][1] == "fn main() {"

    raw = json.loads(p.read_text())
    for bad_path in ("../../etc/passwd", "/etc/passwd", "a\\b", "a/./b", ""):
        raw2 = json.loads(json.dumps(raw))
        raw2["findings"][0]["path"] = bad_path
        p.write_text(json.dumps(raw2))
        with pytest.raises(artifact.ArtifactError):
            artifact.load(p)
    raw2 = json.loads(json.dumps(raw))
    raw2["findings"][0]["line"] = "1; rm -rf /"
    p.write_text(json.dumps(raw2))
    with pytest.raises(artifact.ArtifactError):
        artifact.load(p)
    # the file carries no prose: what is shown comes from the reader's own catalogue
    p.write_text(json.dumps(raw))
    assert "Release binary built on musl" not in p.read_text()
    [kept], unknown = artifact.with_catalogue(
        artifact.load(p)["findings"],
        {"AP001": RuleInfo("AP001", "musl-default-allocator", "why", summary="musl is slow")},
    )
    assert (kept.name, kept.message, unknown) == (
        "musl-default-allocator",
        "musl is slow",
        ["AP003"],
    )
