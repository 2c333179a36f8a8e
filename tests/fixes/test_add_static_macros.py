"""AP005 adds a `#[global_allocator]` only where no macro call at the bin root may declare
one already: a second static never compiles ("cannot define multiple global allocators").

A bare `enable_jemalloc!();` whose macro comes from a `#[macro_use] extern crate` this
scan did not read is such a call: the allocator is unknown (with the reason), not missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cargo_stubs import Cargo
from fixkit import cli, snapshot
from helpers import write_tree

pytestmark = pytest.mark.cargo

COMMON = {
    "common/Cargo.toml": """
        [package]
        name = "common"
        version = "0.1.0"
        edition = "2021"
    """,
    "common/src/lib.rs": """
        #[macro_export]
        macro_rules! enable_jemalloc {
            () => {
                #[global_allocator]
                static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
            };
        }
    """,
}


def _service(root: Path, main_rs: str) -> Path:
    write_tree(
        root,
        {
            **COMMON,
            "svc/Cargo.toml": """
                [package]
                name = "svc"
                version = "0.1.0"
                edition = "2021"

                [dependencies]
                common = { path = "../common" }
                tikv-jemallocator = "0.6"
            """,
            "svc/src/main.rs": main_rs,
        },
    )
    return root / "svc"  # the scan sees the service, not ../common


def test_a_bare_call_of_a_macro_use_crate_not_scanned_gets_no_second_static(
    tmp_path: Path, cargo: Cargo
) -> None:
    svc = _service(
        tmp_path,
        """
        #[macro_use]
        extern crate common;

        enable_jemalloc!();

        fn main() {}
        """,
    )
    before = snapshot(svc)
    run = cli("fix", svc)
    assert snapshot(svc) == before, run.err
    assert "AP005" not in cli("scan", svc).out
    build = cargo.run(svc, "check", "--offline")
    assert build.returncode == 0, build.stderr


def test_the_same_service_without_the_call_still_gets_its_static(
    tmp_path: Path, cargo: Cargo
) -> None:
    # The guard is the call, not the `#[macro_use]` crate: AP005 still fixes the plain case.
    svc = _service(tmp_path, "#[macro_use]\nextern crate common;\n\nfn main() {}\n")
    cli("fix", svc)
    assert "static GLOBAL: tikv_jemallocator::Jemalloc" in (svc / "src/main.rs").read_text()
    build = cargo.run(svc, "check", "--offline")
    assert build.returncode == 0, build.stderr
