"""A ~1 GB synthetic container image as `docker save` writes it, for timing `inspect`.

Standard library only, like run.py. The image holds what a real one does, at scale:
many layers of ordinary files (filler that is not ELF, so it must be skipped cheaply),
real ELF executables and shared objects copied from this machine's /usr/bin and /usr/lib
(built by nobody here) under the usual bin directories, an entrypoint, and a later layer
that deletes a file (a whiteout) and replaces a directory (an opaque directory).

    python benchmarks/synth_image.py /tmp/image.tar --size-mib 1024
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import time
from pathlib import Path

ELF = b"\x7fELF"
BLOCK = 1 << 20


def machine_elves(limit: int = 60, max_bytes: int = 64 << 20) -> list[Path]:
    """Regular ELF files of this machine (executables and shared objects), largest first."""
    found: dict[str, Path] = {}
    for folder in ("/usr/bin", "/usr/lib/x86_64-linux-gnu", "/usr/lib"):
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for e in entries:
            try:
                if not e.is_file(follow_symlinks=False) or e.stat().st_size > max_bytes:
                    continue
                with open(e.path, "rb") as fh:
                    if fh.read(4) != ELF:
                        continue
            except OSError:
                continue
            found.setdefault(e.name, Path(e.path))
    by_size = sorted(found.values(), key=lambda p: p.stat().st_size, reverse=True)
    return by_size[:limit]


class _Filler(io.RawIOBase):
    """`size` bytes of incompressible-looking filler, from one repeated random block."""

    def __init__(self, size: int, block: bytes) -> None:
        self.left, self.block = size, block

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:  # type: ignore[no-untyped-def]
        n = min(len(buf), self.left, len(self.block))
        buf[:n] = self.block[:n]
        self.left -= n
        return n


def _info(name: str, size: int = 0, kind: bytes = tarfile.REGTYPE, mode: int = 0o644):
    ti = tarfile.TarInfo(name)
    ti.size, ti.type, ti.mode, ti.mtime = size, kind, mode, 1_700_000_000
    return ti


def _layer(path: Path, members: list[tuple[str, Path | int | None]], block: bytes) -> str:
    """Write one layer tar: (name, a file to copy | a filler size | None for an empty
    whiteout marker). Returns its sha256 (the layer's diff id)."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, what in members:
            if isinstance(what, Path):
                size = what.stat().st_size
                with open(what, "rb") as fh:
                    tar.addfile(_info(name, size, mode=0o755), fh)
            elif isinstance(what, int):
                tar.addfile(_info(name, what), io.BufferedReader(_Filler(what, block)))
            else:
                tar.addfile(_info(name))
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(BLOCK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _within(elves: list[Path], budget: int) -> list[Path]:
    """The largest first, while they fit in half the image (a small smoke-test image
    still holds real binaries; the 1 GB one holds all of them)."""
    out, used = [], 0
    for p in elves:
        size = p.stat().st_size
        if used + size <= budget:
            out.append(p)
            used += size
    return out


def generate(out: Path, size_mib: int = 1024, layers: int = 24) -> dict:
    """Write the image tarball at `out` (kept if it exists with the same plan)."""
    plan = {"size_mib": size_mib, "layers": layers, "format": 1}
    stamp = out.with_suffix(".json")
    if out.exists() and stamp.exists() and json.loads(stamp.read_text()).get("plan") == plan:
        return json.loads(stamp.read_text())
    t0 = time.perf_counter()
    work = out.with_suffix(".parts")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    elves = _within(machine_elves(), (size_mib << 20) // 2)
    block = os.urandom(BLOCK)
    elf_bytes = sum(p.stat().st_size for p in elves)
    filler_per_layer = max(0, (size_mib << 20) - elf_bytes) // layers
    files_per_layer = 40
    layer_names, diff_ids = [], []
    for i in range(layers):
        members: list[tuple[str, Path | int | None]] = [
            (f"usr/share/data{i:02d}/blob{j:03d}.bin", filler_per_layer // files_per_layer)
            for j in range(files_per_layer)
        ]
        for k, elf in enumerate(elves):
            if k % layers == i:  # the real binaries spread over the layers
                where = "usr/local/bin" if k % 3 else "usr/lib"
                members.append((f"{where}/{elf.name}", elf))
        if i == 0 and elves:
            members.append(("app/server", elves[0]))
            members.append(("opt/tool/bin/old", elves[-1]))
        if i == layers - 1:
            members.append(("usr/share/data00/.wh.blob000.bin", None))  # whiteout
            members.append(("opt/tool/.wh..wh..opq", None))  # opaque: old contents gone
        name = f"{i:02d}/layer.tar"
        (work / f"{i:02d}").mkdir()
        diff_ids.append("sha256:" + _layer(work / name, members, block))
        layer_names.append(name)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Entrypoint": ["/app/server"],
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    config_raw = json.dumps(config).encode()
    config_name = hashlib.sha256(config_raw).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": ["synthetic:1"], "Layers": layer_names}]
    tmp = out.with_name(out.name + ".tmp")
    with tarfile.open(tmp, "w") as tar:
        for name, raw in (
            (config_name, config_raw),
            ("manifest.json", json.dumps(manifest).encode()),
        ):
            tar.addfile(_info(name, len(raw)), io.BytesIO(raw))
        for name in layer_names:
            tar.add(work / name, arcname=name)
    os.replace(tmp, out)
    shutil.rmtree(work, ignore_errors=True)
    meta = {
        "plan": plan,
        "bytes": out.stat().st_size,
        "layers": layers,
        "elf_files": len(elves) + 2,
        "elf_bytes": elf_bytes,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    stamp.write_text(json.dumps(meta, indent=1))
    return meta


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--size-mib", type=int, default=1024)
    p.add_argument("--layers", type=int, default=24)
    args = p.parse_args(argv)
    print(json.dumps(generate(args.out, args.size_mib, args.layers), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
