from __future__ import annotations

import io
from pathlib import Path

from allocpolicy.engine import ScanResult
from allocpolicy.model import Finding, Fix, Location, Safety, Severity
from allocpolicy.reporters import inventory, text


def _result() -> ScanResult:
    f = Finding(
        "AP001",
        "musl-requires-mimalloc",
        Severity.ERROR,
        Location("Dockerfile", 3, 1),
        "msg",
        snippet="FROM rust:1-alpine",
        fix=Fix("link mimalloc", Safety.SAFE, ()),
    )
    g = Finding(
        "AP002",
        "ld-preload-requires-glibc",
        Severity.WARNING,
        Location("x/Dockerfile", 9),
        "m2",
        fix=Fix("remove it", Safety.UNSAFE, ()),
    )
    return ScanResult(Path("."), [f, g], {}, files_scanned=4)


def test_plain_text_lines_excerpts_and_fixes():
    buf = io.StringIO()
    text.render(_result(), buf)
    lines = buf.getvalue().splitlines()
    assert lines[0] == "Dockerfile:3:1: AP001 [error] msg"
    assert lines[1] == "       3 | FROM rust:1-alpine"
    assert lines[2] == "    fix: link mimalloc"
    assert lines[4] == "    fix: remove it (unsafe: --unsafe-fixes)"
    assert (
        lines[-1]
        == "Found 1 error, 1 warning (4 files checked); 2 fixable (`allocpolicy fix --diff` shows the edits)."
    )


def test_a_finding_without_a_fix_shows_no_fix_line():
    result = _result()
    result.findings[1].fix = None
    buf = io.StringIO()
    text.render(result, buf)
    out = buf.getvalue()
    assert "    fix: link mimalloc" in out and "remove it" not in out
    assert out.splitlines()[-1].endswith("; 1 fixable (`allocpolicy fix --diff` shows the edits).")


def test_colour_only_when_asked():
    buf = io.StringIO()
    text.render(_result(), buf, colour=True, excerpts=False)
    assert "\033[31m[error]\033[0m" in buf.getvalue()
    assert buf.getvalue().count("\n") == 3


def test_inventory_table_and_reasons():
    rows = [
        {
            "file": "Dockerfile",
            "stage": "1",
            "base": "scratch",
            "libc": "static",
            "binary": "svc",
            "target": "x86_64-unknown-linux-musl",
            "linkage": "static",
            "allocator": "system",
            "ld_preload": None,
            "reasons": ["target x86_64-unknown-linux-musl: the copied path names it"],
        }
    ]
    out = inventory.render(rows).splitlines()
    assert out[0].split() == [
        "FILE",
        "STAGE",
        "BASE",
        "LIBC",
        "BINARY",
        "TARGET",
        "LINKAGE",
        "ALLOCATOR",
        "LD_PRELOAD",
    ]
    assert out[1].split()[-1] == "-" and out[2].strip().startswith("- target")
