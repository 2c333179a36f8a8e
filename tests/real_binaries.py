"""Real binaries nobody here wrote, fetched from the package registries and cached.

Each comes from its registry's ordinary client at a pinned version (pip for the ruff
wheels, apt-get for Debian's allocator libraries, npm pack for oxlint's Node addons and
biome's executables) or from the local cargo (a hello-world, dynamic and +crt-static),
into ~/.cache/allocpolicy-tests
($ALLOCPOLICY_TEST_CACHE), once. When one cannot be had, its tests skip with the
reason, except under CI (CI=true), where a skip would hide an unchecked artifact:
there they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

RUFF = "0.17.6"
LIBJEMALLOC = ("libjemalloc2", "5.3.0-1", "usr/lib/x86_64-linux-gnu/libjemalloc.so.2")
LIBMIMALLOC = ("libmimalloc2.0", "2.0.9+ds-2", "usr/lib/x86_64-linux-gnu/libmimalloc.so.2.0")
OXLINT_GNU = ("@oxlint/linux-x64-gnu", "1.43.0", "package/oxlint.linux-x64-gnu.node")
OXLINT_MUSL = ("@oxlint/linux-x64-musl", "1.43.0", "package/oxlint.linux-x64-musl.node")
BIOME_MUSL = ("@biomejs/cli-linux-x64-musl", "2.6.9", "package/biome")
BIOME_GNU = ("@biomejs/cli-linux-x64", "2.6.9", "package/biome")


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "allocpolicy-tests"
    path = Path(os.environ.get("ALLOCPOLICY_TEST_CACHE", default))
    path.mkdir(parents=True, exist_ok=True)
    return path


def unavailable(what: str, why: str) -> None:
    message = f"{what} is not available ({why}); it is fetched from its registry once and cached"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str | None:
    """None when it worked, else why not (the command's last line of stderr)."""
    try:
        done = subprocess.run(
            args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode == 0:
        return None
    return (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]


def ruff(platform: str) -> Path:
    """The `ruff` executable of the ruff wheel for `platform` (musllinux_1_2_x86_64 ...)."""
    out = cache_dir() / f"ruff-{RUFF}-{platform}" / "ruff"
    if out.is_file():
        return out
    wheels = out.parent / "wheels"
    why = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--platform",
            platform,
            "--dest",
            str(wheels),
            f"ruff=={RUFF}",
        ],
        cwd=cache_dir(),
    )
    wheel = next(iter(sorted(wheels.glob("*.whl"))), None) if wheels.is_dir() else None
    if wheel is None:
        unavailable(f"the ruff {RUFF} wheel for {platform}", why or "no wheel downloaded")
    assert wheel is not None
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read(f"ruff-{RUFF}.data/scripts/ruff")
    _write(out, data)
    return out


def deb(package: str, version: str, member: str) -> Path:
    """One file of a Debian package, from `apt-get download package=version`."""
    out = cache_dir() / f"{package}_{version}" / Path(member).name
    if out.is_file():
        return out
    work = out.parent / "download"
    work.mkdir(parents=True, exist_ok=True)
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        unavailable(f"Debian's {package} {version}", "apt-get or dpkg-deb not installed")
    why = _run(["apt-get", "download", f"{package}={version}"], cwd=work)
    if why is not None and hasattr(os, "geteuid") and os.geteuid() == 0:
        # a fresh machine has no package lists yet: fetch them once and try again
        _run(["apt-get", "update", "-qq"], cwd=work)
        why = _run(["apt-get", "download", f"{package}={version}"], cwd=work)
    debs = sorted(work.glob("*.deb"))
    if not debs:
        unavailable(f"Debian's {package} {version}", why or "no .deb downloaded")
    why = _run(["dpkg-deb", "-x", str(debs[0]), str(work / "tree")], cwd=work)
    src = work / "tree" / member
    if not src.is_file():
        unavailable(f"{member} of {package} {version}", why or "not in the package")
    _write(out, src.read_bytes())
    return out


def npm(package: str, version: str, member: str) -> Path:
    """One file of an npm package, from `npm pack package@version`."""
    out = cache_dir() / f"{package.replace('/', '+')}@{version}" / Path(member).name
    if out.is_file():
        return out
    work = out.parent / "download"
    work.mkdir(parents=True, exist_ok=True)
    if shutil.which("npm") is None:
        unavailable(f"npm's {package} {version}", "npm is not installed")
    why = _run(["npm", "pack", "--silent", f"{package}@{version}"], cwd=work)
    packs = sorted(work.glob("*.tgz"))
    if not packs:
        unavailable(f"npm's {package} {version}", why or "no tarball packed")
    with tarfile.open(packs[0]) as tf:
        try:
            source = tf.extractfile(member)
        except KeyError:
            source = None
        if source is None:
            unavailable(f"{member} of {package} {version}", "not in the package")
        assert source is not None
        _write(out, source.read())
    return out


HELLO_MAIN = 'fn main() {\n    println!("hello");\n}\n'


def hello(static: bool) -> Path:
    """A hello-world with no dependencies, built by the local cargo (offline): dynamic
    glibc, or with -C target-feature=+crt-static (static glibc)."""
    kind = "static" if static else "dynamic"
    crate = cache_dir() / "hello-crate"
    out = cache_dir() / f"hello-{kind}"
    if out.is_file():
        return out
    (crate / "src").mkdir(parents=True, exist_ok=True)
    (crate / "Cargo.toml").write_text(
        '[package]\nname = "hello"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n'
    )
    (crate / "src" / "main.rs").write_text(HELLO_MAIN)
    if shutil.which("cargo") is None:
        unavailable(f"the {kind} hello-world", "cargo is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARGO_", "RUSTFLAGS"))}
    env["RUSTFLAGS"] = "-C target-feature=+crt-static" if static else ""
    env["CARGO_TARGET_DIR"] = str(crate / f"target-{kind}")
    why = _run(["cargo", "build", "--offline", "--release"], cwd=crate, env=env)
    built = crate / f"target-{kind}" / "release" / "hello"
    if not built.is_file():
        unavailable(f"the {kind} hello-world", why or "cargo built nothing")
    _write(out, built.read_bytes())
    return out


def _write(path: Path, data: bytes) -> None:
    """Write whole or not at all: an interrupted run must not cache half a binary."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
