"""`allocpolicy inspect` on container images assembled from real binaries (tests/image_builder.py).

The binaries' facts were read off them with readelf, nm and strings (tests/test_inspect.py):
ruff musllinux is a static-pie musl Rust executable with jemalloc, ruff manylinux a
dynamic glibc one with jemalloc, Debian's libjemalloc.so.2 and libmimalloc.so.2.0 are
preload targets, and the cargo hello-worlds are on the system allocator (dynamic glibc,
and static glibc with +crt-static).
"""

from __future__ import annotations

import gzip
import io
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import image_builder as ib
import pytest
import real_binaries as rb
from helpers import run_allocpolicy

JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
MIMALLOC = "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2.0"


def inspect_json(path: Path | str, cwd: Path) -> tuple[int, dict[str, Any]]:
    done = run_allocpolicy("inspect", str(path), "--format", "json", cwd=cwd)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)


def found(report: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((f["rule"], f["path"]) for f in report["findings"])


def binaries(art: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["path"]: b for b in art["binaries"]}


@pytest.fixture(scope="module")
def libs() -> dict[str, Path]:
    return {"jemalloc": rb.deb(*rb.LIBJEMALLOC), "mimalloc": rb.deb(*rb.LIBMIMALLOC)}


def test_docker_save_layers_whiteouts_symlinked_entrypoint_and_env_preload(
    ruff_musl: Path, ruff_gnu: Path, libs: dict[str, Path], tmp_path: Path
) -> None:
    layers: list[ib.Layer] = [
        {JEMALLOC[1:]: libs["jemalloc"], "usr/bin/ruff": ruff_gnu},
        {"usr/local/bin/app": ("link", "../../bin/ruff"), "usr/bin/gone": ruff_musl},
        {"opt/tool/bin/old": ruff_musl, "opt/tool/bin/kept-by-nothing": ruff_musl},
        {"usr/bin/.wh.gone": None, "opt/tool/.wh..wh..opq": None, "opt/tool/new": b"text"},
    ]
    cfg = ib.config(["app"], ["PATH=/usr/local/bin:/usr/bin", f"LD_PRELOAD={JEMALLOC}"])
    image = ib.docker_save(tmp_path / "app.tar", layers, cfg)
    code, report = inspect_json(image, tmp_path)
    (art,) = report["artifacts"]
    assert art["kind"] == "docker-archive" and art["platform"] == "linux/amd64"
    assert art["config"]["Entrypoint"] == ["app"] and art["config"]["User"] == "1000"
    assert art["entrypoint"] == "usr/bin/ruff"
    # the whited-out musl ruff and the opaque directory's old contents are not inspected
    assert set(binaries(art)) == {"usr/bin/ruff", JEMALLOC[1:]}
    ruff = binaries(art)["usr/bin/ruff"]
    assert (ruff["linkage"], ruff["libc"], ruff["allocator"]) == ("dynamic", "glibc", "jemalloc")
    assert ruff["preload"] == {
        "value": JEMALLOC,
        "source": "env",
        "libraries": [
            {"path": JEMALLOC, "exists": True, "allocator": "jemalloc", "preload_target": True}
        ],
    }
    assert binaries(art)[JEMALLOC[1:]]["preload"] is None
    # a working preload of an allocator on a dynamic entrypoint: AP011's note only
    assert found(report) == [("AP011", "usr/bin/ruff")] and code == 0


def test_env_wrapper_preload_on_a_static_entrypoint_is_ap002(
    ruff_musl: Path, libs: dict[str, Path], tmp_path: Path
) -> None:
    layers: list[ib.Layer] = [{"app/ruff": ruff_musl, MIMALLOC[1:]: libs["mimalloc"]}]
    cfg = ib.config(["/usr/bin/env", f"LD_PRELOAD={MIMALLOC}", "/app/ruff"], cmd=["check"])
    code, report = inspect_json(ib.docker_save(tmp_path / "a.tar", layers, cfg), tmp_path)
    ruff = binaries(report["artifacts"][0])["app/ruff"]
    assert ruff["preload"]["source"] == "entrypoint"
    assert ruff["preload"]["libraries"][0]["allocator"] == "mimalloc"
    assert found(report) == [("AP001", "app/ruff"), ("AP002", "app/ruff")] and code == 1


def test_sh_c_wrapper_preload_of_a_missing_file_is_ap007(ruff_gnu: Path, tmp_path: Path) -> None:
    layers: list[ib.Layer] = [{"usr/bin/ruff": ruff_gnu}]
    cfg = ib.config(["/bin/sh", "-c", "LD_PRELOAD=/usr/lib/libmimalloc.so exec ruff"])
    code, report = inspect_json(ib.docker_save(tmp_path / "a.tar", layers, cfg), tmp_path)
    lib = binaries(report["artifacts"][0])["usr/bin/ruff"]["preload"]["libraries"][0]
    assert lib == {
        "path": "/usr/lib/libmimalloc.so",
        "exists": False,
        "allocator": None,
        "preload_target": False,
    }
    assert found(report) == [("AP007", "usr/bin/ruff")]
    assert code == 0  # a warning; --fail-on error by default


@pytest.mark.parametrize("as_tar", [False, True])
def test_oci_layout_with_a_two_platform_index_reports_each_platform(
    ruff_musl: Path, as_tar: bool, tmp_path: Path
) -> None:
    hello = rb.hello(static=False)
    out = tmp_path / ("oci.tar" if as_tar else "oci")
    amd = ([{"usr/local/bin/hello": hello}], ib.config(["hello"]))
    arm = ([{"app/ruff": ruff_musl}], ib.config(["/app/ruff"], arch="arm64"))
    ib.oci_layout(out, [amd, arm], as_tar=as_tar)
    code, report = inspect_json(out, tmp_path)
    arts = {a["platform"]: a for a in report["artifacts"]}
    assert set(arts) == {"linux/amd64", "linux/arm64"}
    assert all(a["kind"] == "oci-layout" for a in arts.values())
    h = binaries(arts["linux/amd64"])["usr/local/bin/hello"]
    assert (h["linkage"], h["libc"], h["allocator"]) == ("dynamic", "glibc", "system")
    # findings name the platform when an image has several
    assert found(report) == [
        ("AP001", "linux/arm64:app/ruff"),
        ("AP003", "linux/amd64:usr/local/bin/hello"),
    ]
    assert code == 1


def test_stdin_is_read_as_a_tarball(ruff_musl: Path, tmp_path: Path) -> None:
    image = ib.docker_save(tmp_path / "a.tar", [{"bin/ruff": ruff_musl}], ib.config(["/bin/ruff"]))
    done = subprocess.run(
        [sys.executable, "-m", "allocpolicy", "inspect", "-", "--format", "json"],
        stdin=image.open("rb"),
        capture_output=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert b"Traceback" not in done.stderr
    report = json.loads(done.stdout)
    assert report["artifacts"][0]["path"] == "-"
    assert [f["rule"] for f in report["findings"]] == ["AP001"]
    assert not list(tmp_path.glob("allocpolicy-stdin-*"))


def test_zstd_truncated_gzip_and_escaping_names_are_ap900_and_the_rest_inspected(
    ruff_gnu: Path, tmp_path: Path
) -> None:
    hello = rb.hello(static=True)
    good = gzip.compress(ib.layer_tar({"usr/bin/ruff": ruff_gnu}))
    zstd = b"\x28\xb5\x2f\xfd" + b"\x00" * 64
    broken = gzip.compress(ib.layer_tar({"usr/bin/hello": hello}))[:5000]
    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w") as tar:
        for name in ("../../etc/evil", "usr/bin/hello2"):
            data = hello.read_bytes()
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))
    image = ib.docker_save_raw(
        tmp_path / "a.tar", [good, zstd, broken, evil.getvalue()], ib.config(["ruff"])
    )
    code, report = inspect_json(image, tmp_path)
    art = report["artifacts"][0]
    assert set(binaries(art)) == {"usr/bin/ruff", "usr/bin/hello2"}
    errors = {f["path"]: f["message"] for f in report["findings"] if f["rule"] == "AP900"}
    assert set(errors) == {"01/layer.tar", "02/layer.tar", "03/layer.tar:../../etc/evil"}
    assert "zstd" in errors["01/layer.tar"]
    assert not (tmp_path.parent / "etc" / "evil").exists()
    assert ("AP001", "usr/bin/hello2") in found(report) and code == 1


def test_an_oci_zstd_layer_names_its_media_type(ruff_gnu: Path, tmp_path: Path) -> None:
    media = "application/vnd.oci.image.layer.v1.tar+zstd"
    layers: list[ib.Layer] = [{"usr/bin/ruff": ruff_gnu}, {}]
    raw = {1: (b"\x28\xb5\x2f\xfd" + b"\x00" * 32, media)}
    out = ib.oci_layout(tmp_path / "oci", [(layers, ib.config(["ruff"]))], raw_layers=raw)
    _, report = inspect_json(out, tmp_path)
    (ap900,) = [f for f in report["findings"] if f["rule"] == "AP900"]
    assert media in ap900["message"]
    assert set(binaries(report["artifacts"][0])) == {"usr/bin/ruff"}


def test_an_oci_directory_whose_blobs_link_out_of_it_is_not_read_through_the_link(
    ruff_musl: Path, tmp_path: Path
) -> None:
    # a layout is data: `blobs -> /elsewhere` must not make inspect read (and echo the
    # config of) files outside the directory it was given
    image = ib.oci_layout(tmp_path / "oci", [([{"app": ruff_musl}], ib.config(["/app"]))])
    outside = tmp_path / "elsewhere"
    shutil.move(str(image / "blobs"), outside)
    (image / "blobs").symlink_to(outside)
    code, report = inspect_json(image, tmp_path)
    assert all(not a["binaries"] for a in report["artifacts"])
    errors = [f for f in report["findings"] if f["rule"] == "AP900"]
    assert errors and all("not in the image" in f["message"] for f in errors)
    assert code == 1
