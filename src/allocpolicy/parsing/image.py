"""Container images (docker save tarballs, OCI image layouts) as `Artifact`s, never extracted.

Each platform manifest becomes one artifact. Its layers are read in order, once each:
only the member names, types, links and the first four bytes of regular files (the ELF
magic) are kept, in a tree of the final filesystem where a whiteout (`.wh.name`) or an
opaque directory (`.wh..wh..opq`) drops a subtree in O(1). The binaries chosen then are
read on demand: from an uncompressed layer by seeking into it, from a gzip layer by a
second pass that spools the members into temporary files. Nothing is written anywhere
else, and a member name that would escape the root is a finding, not a path.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import posixpath
import shlex
import shutil
import sys
import tarfile
import tempfile
import zlib
from pathlib import Path

from allocpolicy._record import field, record
from allocpolicy.parsing.artifact import (
    DEFAULT_PATH,
    ELF_MAGIC,
    MAX_MEMBER_BYTES,
    Artifact,
    ArtifactError,
    Member,
    Skipped,
)

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import IO, Any, BinaryIO

MAX_JSON_BYTES = 4 * 1024 * 1024  # manifest, index, config
MAX_LAYER_BYTES = 4 * 1024 * 1024 * 1024  # one layer, decompressed
MAX_STDIN_BYTES = 8 * 1024 * 1024 * 1024  # `-` is spooled: a tar from a pipe cannot seek
MAX_ELF_MEMBERS = 256  # read per platform; the rest AP903
MAX_LINK_HOPS = 40  # as Linux's MAXSYMLINKS
MAX_INDEX_DEPTH = 4
SPOOL_IN_MEMORY = 1024 * 1024
# Where an image keeps what it runs and what it loads; the entrypoint is added wherever it is.
BINARY_DIRS = (
    "bin",
    "sbin",
    "usr/bin",
    "usr/sbin",
    "usr/local/bin",
    "usr/local/sbin",
    "usr/lib",
    "usr/lib64",
    "usr/local/lib",
    "lib",
    "lib64",
    "app",
    "opt",
)
_INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
_GZIP, _ZSTD = b"\x1f\x8b", b"\x28\xb5\x2f\xfd"


class ImageError(Exception):
    """A file of the image is malformed (AP900 on that file)."""


@record
class Node:
    """One path of the final filesystem: where its entry is, and its children (a dir)."""

    kind: str = "dir"  # file | dir | link | other
    layer: int = -1
    name: str = ""  # the member name in its layer
    link: str = ""
    size: int = 0
    elf: bool = False
    children: dict[str, Node] = field(default_factory=dict)


@record
class ImageFs:
    """The layered filesystem of one platform, after whiteouts."""

    root: Node = field(default_factory=Node)

    def lookup(self, path: str, follow: bool = True) -> tuple[str, Node] | None:
        """(the resolved path, its node), following links (absolute ones from the image's
        root, relative ones from their directory), at most MAX_LINK_HOPS; None if absent."""
        parts = [p for p in path.split("/") if p and p != "."]
        done: list[str] = []
        hops = 0
        while parts:
            part = parts.pop(0)
            if part == "..":
                if done:
                    done.pop()
                continue
            parent = self._node(done)
            node = parent.children.get(part) if parent is not None else None
            if node is None:
                return None
            if node.kind == "link" and (parts or follow):
                hops += 1
                if hops > MAX_LINK_HOPS:
                    return None
                target = [p for p in node.link.split("/") if p and p != "."]
                if node.link.startswith("/"):
                    done = []
                parts = target + parts
                continue
            done.append(part)
        node = self._node(done)
        return ("/".join(done), node) if node is not None else None

    def _node(self, parts: list[str]) -> Node | None:
        node: Node | None = self.root
        for p in parts:
            node = node.children.get(p) if node is not None else None
        return node

    def files(self, top: str) -> list[tuple[str, Node]]:
        """Every regular file under `top` (not following links), in name order."""
        start = self._node([p for p in top.split("/") if p])
        if start is None or start.kind != "dir":
            return []
        out, stack = [], [(top, start)]
        while stack:
            prefix, node = stack.pop()
            for name in sorted(node.children, reverse=True):
                child = node.children[name]
                path = f"{prefix}/{name}"
                if child.kind == "dir":
                    stack.append((path, child))
                elif child.kind == "file":
                    out.append((path, child))
        out.sort(key=lambda x: x[0])
        return out


@record
class Image:
    """What an image's config says, and the entrypoint found in its filesystem."""

    config: dict[str, Any]
    entrypoint: str | None = None  # the resolved path of the program the image runs
    entrypoint_preload: str | None = None  # LD_PRELOAD=… of a wrapper (`env`, `sh -c`)
    fs: ImageFs = field(default_factory=ImageFs)

    @property
    def preload(self) -> tuple[str, str] | None:
        """The LD_PRELOAD the entrypoint runs with, and where it is set ("entrypoint" or
        "env"): a wrapper's value wins over the config's Env, as it is set last."""
        if self.entrypoint_preload is not None:
            return self.entrypoint_preload, "entrypoint"
        env = env_value(self.config["Env"], "LD_PRELOAD")
        return (env, "env") if env is not None else None


# -- reading the files of an image (a directory or a tar) ---------------------------------


class _Source:
    """The files of the image by name: a directory's, or a tar's (seekable)."""

    def __init__(self, path: Path, tar: tarfile.TarFile | None) -> None:
        self.path, self.tar = path, tar
        self.users = 0  # the platforms' openers share the tar: the last one closes it
        self.names: dict[str, tarfile.TarInfo] = {}
        self.real = os.path.realpath(path)
        if tar is not None:
            for info in tar:
                name = _normal(info.name)
                if name is not None and info.isfile():
                    self.names[name] = info

    def has(self, name: str) -> bool:
        if self.tar is not None:
            return name in self.names
        return self._file(name) is not None

    def _file(self, name: str) -> Path | None:
        """A directory image's file `name`; None when absent, or when a link on its way
        (`blobs -> /elsewhere`) leads out of the directory: the layout is data, and its
        links never reach this machine's files."""
        full = self.path / name
        real = os.path.realpath(full)
        if not real.startswith(self.real + os.sep) or not os.path.isfile(real):
            return None
        return full

    def size(self, name: str) -> int:
        if self.tar is not None:
            return self.names[name].size
        full = self._file(name)
        if full is None:
            raise ImageError(f"{name}: not in the image")
        return full.stat().st_size

    def window(self, name: str, offset: int, size: int) -> BinaryIO:
        """`size` bytes at `offset` inside the file `name`, read with pread: pyelftools'
        many small seeks cost nothing, where tarfile's nested readers cost a layer each."""
        if self.tar is not None and self.tar.fileobj is not None:
            info = self.names[name]
            offset += info.offset_data
            if info.sparse or offset + size > info.offset_data + info.size:
                raise OSError(f"{name}: member outside its layer")
            # the tar's own descriptor (pread needs no position): stdin's spool is unlinked
            fd = os.dup(self.tar.fileobj.fileno())  # type: ignore[attr-defined]
        else:
            full = self._file(name)
            if full is None:
                raise OSError(f"{name}: not in the image")
            fd = os.open(full, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        return io.BufferedReader(_Window(fd, offset, size), 64 * 1024)

    def open(self, name: str) -> IO[bytes]:
        if self.tar is not None:
            info = self.names.get(name)
            f = self.tar.extractfile(info) if info is not None else None
            if f is None:
                raise ImageError(f"{name}: not in the image")
            return f
        full = self._file(name)
        if full is None or os.path.islink(full):
            raise ImageError(f"{name}: not in the image")
        return open(full, "rb")

    def json(self, name: str) -> Any:
        if not self.has(name):
            raise ImageError(f"{name}: not in the image")
        if self.size(name) > MAX_JSON_BYTES:
            raise ImageError(f"{name}: over the {MAX_JSON_BYTES}-byte limit for JSON")
        with self.open(name) as f:
            raw = f.read(MAX_JSON_BYTES + 1)
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ImageError(f"{name}: not valid JSON: {exc}") from None


def _normal(name: str) -> str | None:
    """A member name relative to the root, or None when it would escape it."""
    if name.startswith("/"):
        return None
    parts: list[str] = []
    for p in name.split("/"):
        if p in ("", "."):
            continue
        if p == "..":
            if not parts:
                return None
            parts.pop()
            continue
        parts.append(p)
    return "/".join(parts)


def _blob(digest: Any) -> str:
    if not isinstance(digest, str) or ":" not in digest:
        raise ImageError(f"bad digest {digest!r}")
    algo, _, hexa = digest.partition(":")
    if not (algo.isalnum() and hexa.isalnum()):
        raise ImageError(f"bad digest {digest!r}")
    return f"blobs/{algo}/{hexa}"


# -- entry points ------------------------------------------------------------------------


def is_image(path: Path) -> bool:
    """A directory or tar that holds an OCI layout or a docker save manifest."""
    if path.is_dir():
        return (path / "oci-layout").exists() or (path / "manifest.json").exists()
    try:
        with tarfile.open(path, "r:") as tar:
            for i, info in enumerate(tar):
                if _normal(info.name) in ("manifest.json", "oci-layout", "index.json"):
                    return True
                if i > 10_000:
                    return False
    except (tarfile.TarError, OSError, EOFError):
        return False
    return False


def spool_stdin() -> Path:
    """Copy stdin to a temporary file (the caller deletes it), at most MAX_STDIN_BYTES."""
    fd, name = tempfile.mkstemp(prefix="allocpolicy-stdin-", suffix=".tar")
    total = 0
    with os.fdopen(fd, "wb") as out:
        src = sys.stdin.buffer
        while chunk := src.read(1024 * 1024):
            total += len(chunk)
            if total > MAX_STDIN_BYTES:
                os.unlink(name)
                raise ArtifactError(f"-: stdin is over the {MAX_STDIN_BYTES}-byte limit")
            out.write(chunk)
    return Path(name)


def open_image(path: str, real: Path) -> list[Artifact]:
    """One artifact per platform of the image at `real` (named `path` by the user)."""
    tar = None
    if not real.is_dir():
        try:
            tar = tarfile.open(real, "r:")  # noqa: SIM115 - kept open until the opener closes
        except (tarfile.TarError, OSError) as exc:
            raise ArtifactError(f"{path}: not a readable tar: {exc}") from None
    src = _Source(real, tar)
    kind = "docker-archive" if src.has("manifest.json") else "oci-layout"
    artifacts: list[Artifact] = []
    try:
        plans = _docker_plans(src) if kind == "docker-archive" else _oci_plans(src)
    except ImageError as exc:
        art = Artifact(kind, path, real)
        art.errors.append(("manifest.json" if kind == "docker-archive" else "index.json", str(exc)))
        return [art]
    for platform, config_name, layers, media in plans:
        art = Artifact(kind, path, real)
        artifacts.append(art)
        try:
            doc = src.json(config_name)
            if not isinstance(doc, dict):
                raise ImageError(f"{config_name}: not a JSON object")
        except ImageError as exc:
            art.errors.append((config_name, str(exc)))
            doc = {}
        art.platform = platform or _platform(doc)
        _read_image(src, art, doc, layers, media)
    if len(artifacts) > 1:
        for art in artifacts:
            art.prefix = f"{art.platform or 'unknown'}:"
    return artifacts


def _platform(doc: dict[str, Any]) -> str | None:
    os_, arch = doc.get("os"), doc.get("architecture")
    if not isinstance(os_, str) or not isinstance(arch, str):
        return None
    variant = doc.get("variant")
    return f"{os_}/{arch}" + (f"/{variant}" if isinstance(variant, str) and variant else "")


def _docker_plans(src: _Source) -> list[tuple[str | None, str, list[str], list[str]]]:
    manifest = src.json("manifest.json")
    if not isinstance(manifest, list):
        raise ImageError("manifest.json: not a JSON list")
    plans: list[tuple[str | None, str, list[str], list[str]]] = []
    for entry in manifest:
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise ImageError("manifest.json: an entry without Config")
        layers = entry.get("Layers") or []
        if not isinstance(layers, list) or not all(isinstance(x, str) for x in layers):
            raise ImageError("manifest.json: Layers is not a list of names")
        names = [_normal(x) or "" for x in layers]
        plans.append((None, _normal(entry["Config"]) or "", names, [""] * len(names)))
    return plans


def _oci_plans(src: _Source) -> list[tuple[str | None, str, list[str], list[str]]]:
    plans: list[tuple[str | None, str, list[str], list[str]]] = []

    def walk(doc: Any, name: str, depth: int, platform: str | None) -> None:
        if not isinstance(doc, dict):
            raise ImageError(f"{name}: not a JSON object")
        if "manifests" in doc:
            if depth >= MAX_INDEX_DEPTH:
                raise ImageError(f"{name}: indexes nested deeper than {MAX_INDEX_DEPTH}")
            for desc in doc.get("manifests") or []:
                if not isinstance(desc, dict):
                    continue
                plat = desc.get("platform")
                p = _platform(plat) if isinstance(plat, dict) else platform
                ann = desc.get("annotations") or {}
                if p == "unknown/unknown" or (
                    isinstance(ann, dict)
                    and ann.get("vnd.docker.reference.type") == "attestation-manifest"
                ):
                    continue  # buildx's provenance: not a filesystem anyone runs
                blob = _blob(desc.get("digest"))
                walk(src.json(blob), blob, depth + 1, p)
            return
        config = doc.get("config")
        layers = doc.get("layers")
        if not isinstance(config, dict) or not isinstance(layers, list):
            raise ImageError(f"{name}: neither an index nor an image manifest")
        descs = [d for d in layers if isinstance(d, dict)]
        plans.append(
            (
                platform,
                _blob(config.get("digest")),
                [_blob(d.get("digest")) for d in descs],
                [str(d.get("mediaType", "")) for d in descs],
            )
        )

    walk(src.json("index.json"), "index.json", 0, None)
    return plans


# -- layers ------------------------------------------------------------------------------


class _Capped:
    """A read-only stream that fails past `limit` bytes (a gzip bomb stops there)."""

    def __init__(self, raw: IO[bytes], limit: int, name: str) -> None:
        self.raw, self.limit, self.name, self.seen = raw, limit, name, 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.seen += len(data)
        if self.seen > self.limit:
            raise ImageError(f"{self.name}: over {self.limit} bytes decompressed")
        return data


def _layer_tar(src: _Source, name: str, media: str) -> tuple[tarfile.TarFile, IO[bytes]]:
    """The layer as a tar: seekable when it is uncompressed, a stream when gzip."""
    raw = src.open(name)
    head = raw.read(4)
    raw.seek(0)
    if head.startswith(_ZSTD) or "zstd" in media:
        raw.close()
        raise ImageError(f"{name}: zstd-compressed layer ({media or 'zstd'}) is not supported")
    if head.startswith(_GZIP):
        stream = _Capped(gzip.GzipFile(fileobj=raw), MAX_LAYER_BYTES, name)  # type: ignore[arg-type]
        return tarfile.open(fileobj=stream, mode="r|"), raw  # type: ignore[call-overload]
    if src.size(name) > MAX_LAYER_BYTES:
        raw.close()
        raise ImageError(f"{name}: over the {MAX_LAYER_BYTES}-byte limit for a layer")
    return tarfile.open(fileobj=raw, mode="r:"), raw


_LAYER_ERRORS = (tarfile.TarError, OSError, EOFError, zlib.error, gzip.BadGzipFile, ImageError)


def _read_image(
    src: _Source, art: Artifact, doc: dict[str, Any], layers: list[str], media: list[str]
) -> None:
    fs = ImageFs()
    offsets: dict[tuple[int, str], tarfile.TarInfo] = {}
    for i, name in enumerate(layers):
        try:
            tar, raw = _layer_tar(src, name, media[i])
        except _LAYER_ERRORS as exc:
            art.errors.append((name, _why(exc)))
            continue
        try:
            _apply(fs, tar, i, name, art, offsets)
        except _LAYER_ERRORS as exc:  # a truncated layer: what came before it stays
            art.errors.append((name, _why(exc)))
        finally:
            tar.close()
            raw.close()
    cfg = doc.get("config")
    cfg = cfg if isinstance(cfg, dict) else {}
    image = Image(_config(doc, cfg), fs=fs)
    art.image = image
    _entrypoint(image)
    chosen = _choose(image)
    members: dict[str, tuple[int, str, int]] = {}
    for path, node in chosen:
        if len(members) >= MAX_ELF_MEMBERS:
            art.skipped.append(
                Skipped(path, f"more than {MAX_ELF_MEMBERS} ELF files in the image; skipped")
            )
            continue
        if node.size > MAX_MEMBER_BYTES:
            art.skipped.append(Skipped(path, f"file is {node.size} bytes; skipped"))
            continue
        members[path] = (node.layer, node.name, node.size)
        art.members.append(Member(path, node.size))
    art.opener = _Opener(src, layers, media, members, offsets)


def _why(exc: BaseException) -> str:
    if isinstance(exc, ImageError):
        return str(exc)
    return f"not a valid layer tar: {type(exc).__name__}: {exc}"


def _apply(
    fs: ImageFs,
    tar: tarfile.TarFile,
    layer: int,
    lname: str,
    art: Artifact,
    offsets: dict[tuple[int, str], tarfile.TarInfo],
) -> None:
    """One layer onto the tree. Its whiteouts apply to the layers below only, so the
    layer's entries are collected first and its deletions done before they are added."""
    entries: list[tuple[str, tarfile.TarInfo, bool]] = []
    for info in tar:
        name = _normal(info.name)
        if name is None:
            art.errors.append((f"{lname}:{info.name}", "member name escapes the root; ignored"))
            continue
        if not name:
            continue
        elf = False
        if info.isfile() and info.size >= 4:
            f = tar.extractfile(info)
            elf = f is not None and f.read(4) == ELF_MAGIC
        entries.append((name, info, elf))
    for name, _info, _ in entries:
        dirname, base = posixpath.split(name)
        if base == ".wh..wh..opq":
            opq = fs.lookup(dirname, follow=False) if dirname else ("", fs.root)
            if opq is not None and opq[1].kind == "dir":
                opq[1].children.clear()
        elif base.startswith(".wh."):
            parent = fs._node(dirname.split("/") if dirname else [])
            if parent is not None:
                parent.children.pop(base[4:], None)
    for name, info, elf in entries:
        base = posixpath.basename(name)
        if base.startswith(".wh."):
            continue
        parts = name.split("/")
        parent = fs.root
        for p in parts[:-1]:
            child = parent.children.get(p)
            if child is None or child.kind != "dir":
                child = Node()
                parent.children[p] = child
            parent = child
        old = parent.children.get(parts[-1])
        if info.isdir():
            if old is None or old.kind != "dir":
                parent.children[parts[-1]] = Node()
            continue
        kind = "file" if info.isfile() else "link" if info.issym() else "other"
        node = Node(kind, layer, info.name, info.linkname, info.size, elf)
        if info.islnk():  # a hard link: the same file as its target, in this layer
            target = _normal(info.linkname)
            hard = fs.lookup(target, follow=False) if target else None
            if hard is not None and hard[1].kind == "file":
                node = hard[1]
        parent.children[parts[-1]] = node
        if kind == "file" and elf:
            offsets[(layer, info.name)] = info


def _config(doc: dict[str, Any], cfg: dict[str, Any]) -> dict[str, Any]:
    def strings(v: Any) -> list[str] | None:
        return [str(x) for x in v] if isinstance(v, list) else None

    return {
        "os": doc.get("os") if isinstance(doc.get("os"), str) else None,
        "architecture": doc.get("architecture")
        if isinstance(doc.get("architecture"), str)
        else None,
        "variant": doc.get("variant") if isinstance(doc.get("variant"), str) else None,
        "Env": strings(cfg.get("Env")) or [],
        "Entrypoint": strings(cfg.get("Entrypoint")),
        "Cmd": strings(cfg.get("Cmd")),
        "User": cfg.get("User") if isinstance(cfg.get("User"), str) else None,
    }


def env_value(env: list[str], name: str) -> str | None:
    for item in env:
        key, sep, value = item.partition("=")
        if sep and key == name:
            return value
    return None


def _entrypoint(image: Image) -> None:
    """The program the image runs: Entrypoint + Cmd, through `env X=… prog` and
    `sh -c "X=… exec prog"` wrappers (a word split, never run), found on the config's PATH."""
    cfg = image.config
    words = (cfg["Entrypoint"] or []) + (cfg["Cmd"] or [])
    for _ in range(4):  # wrappers inside wrappers, a few deep
        if not words:
            return
        prog = posixpath.basename(words[0])
        if prog == "env":
            words = words[1:]
            while words and ("=" in words[0] or words[0].startswith("-")):
                key, _, value = words[0].partition("=")
                if key == "LD_PRELOAD":
                    image.entrypoint_preload = value
                words = words[1:]
            continue
        if prog in ("sh", "bash", "dash", "ash") and len(words) >= 3 and words[1] == "-c":
            try:
                words = shlex.split(words[2])
            except ValueError:
                return
            while words and (words[0] in ("exec", "export") or "=" in words[0]):
                key, _, value = words[0].partition("=")
                if key == "LD_PRELOAD":
                    image.entrypoint_preload = value
                words = words[1:]
            continue
        break
    if not words:
        return
    prog = words[0]
    if "/" in prog:
        candidates = [prog if prog.startswith("/") else "/" + prog]
    else:
        path = env_value(cfg["Env"], "PATH") or DEFAULT_PATH
        candidates = [f"{d.rstrip('/')}/{prog}" for d in path.split(":") if d.startswith("/")]
    for c in candidates:
        found = image.fs.lookup(c)
        if found is not None and found[1].kind == "file":
            image.entrypoint = found[0]
            return


def _choose(image: Image) -> list[tuple[str, Node]]:
    """The entrypoint first, the libraries it is preloaded with, then the ELF files of
    BINARY_DIRS."""
    out: dict[str, Node] = {}
    if image.entrypoint:
        found = image.fs.lookup(image.entrypoint)
        if found is not None and found[1].elf:
            out[found[0]] = found[1]
    preload = image.preload
    for lib in preload_paths(preload[0] if preload else None):
        found = image.fs.lookup(lib)
        if found is not None and found[1].kind == "file" and found[1].elf:
            out.setdefault(found[0], found[1])
    for top in BINARY_DIRS:
        for path, node in image.fs.files(top):
            if node.elf:
                out.setdefault(path.lstrip("/"), node)
    return list(out.items())


def preload_paths(value: str | None) -> list[str]:
    """The libraries LD_PRELOAD names (space- or colon-separated)."""
    if not value:
        return []
    return [p for p in value.replace(":", " ").split() if p]


class _Opener:
    """Opens a chosen member: seeking into an uncompressed layer, or, for a gzip layer,
    from a temporary file filled in one second pass over that layer."""

    def __init__(
        self,
        src: _Source,
        layers: list[str],
        media: list[str],
        members: dict[str, tuple[int, str, int]],
        offsets: dict[tuple[int, str], tarfile.TarInfo],
    ) -> None:
        self.src, self.layers, self.media, self.members = src, layers, media, members
        src.users += 1
        self.offsets = offsets
        self.spooled: dict[tuple[int, str], IO[bytes]] = {}
        self.passed: set[int] = set()
        self.open_tars: dict[int, tuple[tarfile.TarFile, IO[bytes]]] = {}

    def __call__(self, member: Member) -> BinaryIO:
        layer, name, _ = self.members[member.path]
        key = (layer, name)
        if key in self.spooled:
            f = self.spooled.pop(key)
            f.seek(0)
            return f  # type: ignore[return-value]
        if layer not in self.open_tars and layer not in self.passed:
            try:
                tar, raw = _layer_tar(self.src, self.layers[layer], self.media[layer])
            except _LAYER_ERRORS as exc:
                raise OSError(_why(exc)) from None
            if _is_stream(tar):
                self._second_pass(layer, tar, raw)
            else:
                self.open_tars[layer] = (tar, raw)
        if key in self.spooled:
            f = self.spooled.pop(key)
            f.seek(0)
            return f  # type: ignore[return-value]
        info = self.offsets.get(key)
        if layer in self.open_tars and info is not None:
            return self.src.window(self.layers[layer], info.offset_data, info.size)
        raise OSError(f"{member.path}: could not be read back from its layer")

    def _second_pass(self, layer: int, tar: tarfile.TarFile, raw: IO[bytes]) -> None:
        self.passed.add(layer)
        wanted = {n for (lay, n, _s) in self.members.values() if lay == layer}
        try:
            for info in tar:
                if info.name in wanted and info.isfile():
                    f = tar.extractfile(info)
                    if f is None:
                        continue
                    spool = tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY)  # noqa: SIM115
                    shutil.copyfileobj(f, spool)
                    self.spooled[(layer, info.name)] = spool
        except _LAYER_ERRORS:
            pass  # the first pass reported it
        finally:
            tar.close()
            raw.close()

    def close(self) -> None:
        for tar, raw in self.open_tars.values():
            tar.close()
            raw.close()
        for f in self.spooled.values():
            f.close()
        self.src.users -= 1
        if self.src.tar is not None and self.src.users <= 0:
            self.src.tar.close()


class _Window(io.RawIOBase):
    """A read-only, seekable view of `size` bytes at `base` of an open file descriptor."""

    def __init__(self, fd: int, base: int, size: int) -> None:
        self.fd, self.base, self.length, self.pos = fd, base, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        start = {0: 0, 1: self.pos, 2: self.length}[whence]
        self.pos = max(0, start + offset)
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, buf: Any) -> int:
        n = max(0, min(len(buf), self.length - self.pos))
        data = os.pread(self.fd, n, self.base + self.pos) if n else b""
        buf[: len(data)] = data
        self.pos += len(data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            os.close(self.fd)
        super().close()


def _is_stream(tar: tarfile.TarFile) -> bool:
    """Opened with mode "r|" (a gzip layer): its members can be read once, in order."""
    return not callable(getattr(tar.fileobj, "seekable", None))
