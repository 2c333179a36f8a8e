"""Container images assembled in temp dirs from real files, as docker and buildx write them.

A layer is a dict of path -> a file to copy (its bytes) | ("link", target) | None (an
empty file: whiteout markers). `docker_save` writes the classic `docker save` tar
(manifest.json, <config>.json, <n>/layer.tar); `oci_layout` writes an OCI image layout
(oci-layout, index.json, blobs/sha256/...) as a directory or a tar, with one platform or
an index of several. Layers are uncompressed, gzip or zstd-labelled as asked.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

Layer = dict[str, "Path | bytes | tuple[str, str] | None"]


def _info(name: str, size: int = 0, kind: bytes = tarfile.REGTYPE, mode: int = 0o755) -> Any:
    ti = tarfile.TarInfo(name)
    ti.size, ti.type, ti.mode, ti.mtime = size, kind, mode, 1_700_000_000
    return ti


def layer_tar(layer: Layer) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, what in layer.items():
            if isinstance(what, tuple):
                ti = _info(name, kind=tarfile.SYMTYPE)
                ti.linkname = what[1]
                tar.addfile(ti)
            else:
                data = what.read_bytes() if isinstance(what, Path) else (what or b"")
                tar.addfile(_info(name, len(data)), io.BytesIO(data))
    return buf.getvalue()


def config(
    entrypoint: list[str] | None,
    env: list[str] | None = None,
    arch: str = "amd64",
    cmd: list[str] | None = None,
) -> dict[str, Any]:
    env = env if env is not None else ["PATH=/usr/local/bin:/usr/bin:/bin"]
    return {
        "architecture": arch,
        "os": "linux",
        "config": {"Env": env, "Entrypoint": entrypoint, "Cmd": cmd, "User": "1000"},
        "rootfs": {"type": "layers", "diff_ids": []},
    }


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    tar.addfile(_info(name, len(data), mode=0o644), io.BytesIO(data))


def docker_save(out: Path, layers: list[Layer], cfg: dict[str, Any]) -> Path:
    with tarfile.open(out, "w") as tar:
        names = []
        for i, layer in enumerate(layers):
            name = f"{i:02d}/layer.tar"
            _add(tar, name, layer_tar(layer))
            names.append(name)
        raw = json.dumps(cfg).encode()
        cname = hashlib.sha256(raw).hexdigest() + ".json"
        _add(tar, cname, raw)
        manifest = [{"Config": cname, "RepoTags": ["app:1"], "Layers": names}]
        _add(tar, "manifest.json", json.dumps(manifest).encode())
    return out


def docker_save_raw(out: Path, blobs: list[bytes], cfg: dict[str, Any]) -> Path:
    """A docker save tar whose layers are the given bytes as they are (broken ones too)."""
    with tarfile.open(out, "w") as tar:
        names = []
        for i, data in enumerate(blobs):
            names.append(f"{i:02d}/layer.tar")
            _add(tar, names[-1], data)
        raw = json.dumps(cfg).encode()
        _add(tar, "config.json", raw)
        _add(
            tar, "manifest.json", json.dumps([{"Config": "config.json", "Layers": names}]).encode()
        )
    return out


class _Blobs:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def put(self, data: bytes, media: str) -> dict[str, Any]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.blobs[digest] = data
        return {"mediaType": media, "digest": digest, "size": len(data)}


def oci_layout(
    out: Path,
    platforms: list[tuple[list[Layer], dict[str, Any]]],
    as_tar: bool = False,
    compress: str = "gzip",
    raw_layers: dict[int, tuple[bytes, str]] | None = None,
) -> Path:
    """An OCI layout: one manifest per (layers, config); two or more → an image index
    inside index.json's one entry (as buildx writes a multi-platform image)."""
    blobs = _Blobs()
    manifests = []
    for layers, cfg in platforms:
        descs = []
        for i, layer in enumerate(layers):
            if raw_layers and i in raw_layers:
                data, media = raw_layers[i]
            elif compress == "gzip":
                data = gzip.compress(layer_tar(layer), mtime=0)
                media = "application/vnd.oci.image.layer.v1.tar+gzip"
            else:
                data, media = layer_tar(layer), "application/vnd.oci.image.layer.v1.tar"
            descs.append(blobs.put(data, media))
        cdesc = blobs.put(json.dumps(cfg).encode(), "application/vnd.oci.image.config.v1+json")
        manifest = {"schemaVersion": 2, "config": cdesc, "layers": descs}
        mdesc = blobs.put(
            json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json"
        )
        mdesc["platform"] = {"os": cfg["os"], "architecture": cfg["architecture"]}
        manifests.append(mdesc)
    if len(manifests) > 1:
        index = {"schemaVersion": 2, "manifests": manifests}
        top = [blobs.put(json.dumps(index).encode(), "application/vnd.oci.image.index.v1+json")]
    else:
        top = manifests
    files = {
        "oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
        "index.json": json.dumps({"schemaVersion": 2, "manifests": top}).encode(),
    }
    for digest, data in blobs.blobs.items():
        files["blobs/sha256/" + digest.split(":")[1]] = data
    if as_tar:
        with tarfile.open(out, "w") as tar:
            for name, data in files.items():
                _add(tar, name, data)
    else:
        for name, data in files.items():
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_bytes(data)
    return out
