"""Turn the repository model into subjects: the typed records of facts/catalog.py.

Each subject carries its facts, where a finding about it is reported, and the
objects a fix action needs.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re

from allocpolicy._lazyre import lazy_re
from allocpolicy._record import record, replace
from allocpolicy.facts import allocators
from allocpolicy.facts.catalog import (
    PROFILE_ALLOCATORS,
    BinarySubject,
    CrateSubject,
    DependencySubject,
    GlobalAllocatorSubject,
    LdPreloadSubject,
)
from allocpolicy.facts.containers import (
    Artifact,
    Build,
    Containerfile,
    StageFacts,
    build_dir,
    build_target,
    declared_targets,
    preloads,
    repo_path,
)
from allocpolicy.facts.libraries import (
    allocator_of_library,
    debian_triplet,
    expected_paths,
    package_allocator,
    packages_providing,
)
from allocpolicy.facts.repo import Repo
from allocpolicy.facts.runtime import runtime_proof
from allocpolicy.facts.triples import (
    arch_from_platform,
    candidate_triples,
    cfg_facts,
    config_rustflags,
    is_musl,
    links_statically,
)
from allocpolicy.facts.workspace import AllocatorStatic, Crate, enabled_features
from allocpolicy.model import Location
from allocpolicy.parsing.cargo import Dependency
from allocpolicy.parsing.cfg import CfgError, CfgExpr, decide, opt_outs, target_key_matches
from allocpolicy.parsing.text import ReadError
from allocpolicy.parsing.versions import version_tuple

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

    from allocpolicy.parsing.dockerfile import Instruction

BASELINE_TRIPLES = ("x86_64-unknown-linux-gnu", "x86_64-unknown-linux-musl")


@record
class ShippedBinary:
    containerfile: Containerfile
    name: str
    crate: Crate | None
    triple: str | None
    evidence: tuple[int, str]
    build: Build | None
    features: tuple[frozenset[str], frozenset[str]]  # features on, optional deps on
    reasons: list[str]
    # A target known in part (`$(false)-unknown-linux-gnu`): the platform targets it can be.
    candidates: tuple[str, ...] = ()


def _fmt_list(items: Any) -> str:
    items = list(items)
    return " or ".join(items) if items else "nothing"


def libc_of(triple: str | None) -> str:
    if not triple:
        return "unknown"
    if is_musl(triple):
        return "musl"
    return "glibc" if triple.rsplit("-", 1)[-1].startswith("gnu") else "unknown"


# ---------------------------------------------------------------- binaries


def shipped_binaries(repo: Repo, cf: Containerfile) -> list[ShippedBinary]:
    final = cf.final
    if final is None:
        return []
    out: dict[tuple[str, str | None, str | None], ShippedBinary] = {}
    for art in final.artifacts.values():
        for sb in _resolve_artifact(repo, cf, art):
            out.setdefault((sb.name, sb.crate.name if sb.crate else None, sb.triple), sb)
    if not out:  # nothing copied or installed of this repository: what the stage built is there
        for b in final.builds:
            if b.cargo.produces_binaries and not _third_party(repo, b):
                for n in _build_bin_names(repo, cf, b):
                    for sb in _resolve_artifact(repo, cf, Artifact(n, None, b, b.line)):
                        out.setdefault(
                            (sb.name, sb.crate.name if sb.crate else None, sb.triple), sb
                        )
    named = {sb.name for sb in out.values()}
    for sb in _built_elsewhere(repo, cf, final, named):
        out.setdefault((sb.name, sb.crate.name if sb.crate else None, None), sb)
    return list(out.values())


# Wrappers an ENTRYPOINT runs the service through; the binary is the next word.
_INIT_WRAPPERS = frozenset({"tini", "dumb-init", "catatonit", "tini-static", "--"})


def _built_elsewhere(
    repo: Repo, cf: Containerfile, final: StageFacts, named: set[str]
) -> list[ShippedBinary]:
    """Binaries named like a bin target of this repository that the image ships but does
    not build: copied from the build context (CI put them there), downloaded in a stage,
    or run by ENTRYPOINT/CMD from the base image. Their build facts are unknown."""
    found: dict[str, tuple[int, str]] = {}
    paths: dict[str, str | None] = {}  # where each is in the image, when known
    named = set(named)
    copies = _copy_lines(cf, final)
    for path, line in final.files.items():
        name = posixpath.basename(path)
        if line not in copies or name in named or name in found or not repo.crates_with_bin(name):
            continue  # `ln -s conf.d/x /etc/app/<bin name>` names a link, not a binary
        if path in final.dirs:
            continue  # a directory named like the bin (`COPY --from=b /var/lib/app ...`)
        in_repo = repo_path(final, path)
        if in_repo is not None and (repo.root / in_repo).exists():
            named.add(name)  # a file of the repository (a script, a directory), not a build
            continue
        found[name] = (line, f"`{path}` (line {line}) comes from no build seen in this file")
        paths[name] = path
    for path, (line, why) in final.named_files.items():  # `COPY ${BIN} ./` + `chmod +x ./app`
        name = posixpath.basename(path)
        if name in named or name in found or not repo.crates_with_bin(name):
            continue
        in_repo = repo_path(final, path)
        if in_repo is not None and (repo.root / in_repo).exists():
            continue  # `COPY . .` brought a script or directory of that name
        found[name] = (line, why)
        paths[name] = path
    for ins in (i for i in (final.entrypoint, final.cmd) if i is not None):
        run = _executable(ins)
        if run and run not in named and run not in found and repo.crates_with_bin(run):
            why = f"{ins.keyword} runs `{run}` (line {ins.start_line}), which no build seen here makes"
            found[run] = (ins.start_line, why)
            paths[run] = _run_path(final, ins, run)
    published = _published_image(repo, cf, final)
    if published is not None and published[0] not in named and published[0] not in found:
        found[published[0]] = published[1]
    out = []
    for name, (line, why) in found.items():
        crate = _crate_for(repo, [], name)
        prebuilt = _prebuilt(final, paths.get(name), name)
        triple = prebuilt[1] if prebuilt else None
        sb = _shipped(repo, cf, Artifact(name, triple, None, line), name, crate)
        if prebuilt is not None:
            sb.evidence = (prebuilt[0], prebuilt[2])
            sb.reasons[0] = (
                f"target {triple}: `{name}` was copied on line {prebuilt[0]}; {prebuilt[2]}"
            )
        else:
            sb.evidence = (line, why)
            sb.reasons[0] = f"target unknown: {why} (its build facts are unknown)"
        out.append(sb)
    return out


def _run_path(final: StageFacts, ins: Instruction, run: str) -> str | None:
    """Where the program ENTRYPOINT/CMD starts lives: its path, or the first PATH directory
    a copy put it in."""
    argv = ins.exec_form() or ins.args.split()
    word = next((w for w in argv if posixpath.basename(w) == run), run)
    if word.startswith("/"):
        return word
    from allocpolicy.parsing.artifact import DEFAULT_PATH  # only for such an ENTRYPOINT

    dirs = final.env.get("PATH", DEFAULT_PATH)
    for d in dirs.split(":"):
        if d and (posixpath.join(d, run) in final.prebuilt or d in final.prebuilt):
            return posixpath.join(d, run)
    return None


def _prebuilt(final: StageFacts, path: str | None, name: str) -> tuple[int, str, str] | None:
    """(copy line, triple, why) when the file came out of a stage that unpacked a release
    archive for a target (containers._mark_prebuilt) named after the binary
    (`app-v1-x86_64-unknown-linux-musl.tar.gz` for `app`; a tool's archive says nothing)."""
    if path is None:
        return None
    found = final.prebuilt.get(path) or final.prebuilt.get(posixpath.dirname(path))
    if found is None or not _names_binary(found[3], name):
        return None
    return found[:3]


def _names_binary(archive: str, name: str) -> bool:
    words = {w for w in re.split(r"[-_.]", archive.lower()) if w}
    return name.lower() in words or name.lower().replace("_", "-") in archive.lower()


def _published_image(
    repo: Repo, cf: Containerfile, final: StageFacts
) -> tuple[str, tuple[int, str]] | None:
    """`FROM acme-project/acme:1.4` as the final base, for a repository with bin `acme`:
    the project's own published image of that binary, which the stage only adds to.

    The name alone is not enough: `redis` or `someone/redis` is somebody else's
    program that happens to share a bin's name. So the image's namespace must name
    the bin too (`acme-project`), or its tag be the version of the crate that has it.
    """
    root = final
    while root.stage.parent is not None and root.stage.parent < len(cf.stages):
        root = cf.stages[root.stage.parent]
    ref = root.stage.base_resolved
    parts = ref.split("@", 1)[0].lower().split("/")
    if "$" in ref or len(parts) < 2 or parts[-2] == "library":
        return None  # an official image: never the project's
    if root.image.reason.startswith("built by "):
        return None  # an image this repository builds: its binaries came with its facts
    name, _, tag = parts[-1].partition(":")
    crates = repo.crates_with_bin(name)
    if not crates:
        return None
    owner = parts[-2]
    if _squash(name) in _squash(owner):
        how = f"its namespace `{owner}` names it too"
    elif tag and any(tag.removeprefix("v") == _version(repo, c) for c in crates):
        how = f"its tag `{tag}` is crate {crates[0].name}'s version"
    else:
        return None
    line = root.stage.from_line
    why = (
        f"the image is FROM `{ref}` (line {line}), named like bin `{name}` and {how}: "
        "the project's published image of it, built elsewhere"
    )
    return name, (line, why)


def _squash(word: str) -> str:
    return word.replace("-", "").replace("_", "").replace(".", "")


def _version(repo: Repo, crate: Crate) -> str | None:
    """The crate's version, through `version.workspace = true` too."""
    pkg = crate.manifest.data.get("package")
    version = pkg.get("version") if isinstance(pkg, dict) else None
    if isinstance(version, dict) and crate.root is not None:
        ws = crate.root.data.get("workspace")
        shared = ws.get("package") if isinstance(ws, dict) else None
        version = shared.get("version") if isinstance(shared, dict) else None
    return version if isinstance(version, str) else None


def _copy_lines(cf: Containerfile, final: StageFacts) -> set[int]:
    """Lines of the COPY/ADD instructions of the final stage and the stages it is FROM."""
    lines: set[int] = set()
    stage: StageFacts | None = final
    while stage is not None:
        lines |= {i.start_line for i in stage.stage.instructions if i.keyword in ("COPY", "ADD")}
        parent = stage.stage.parent
        stage = cf.stages[parent] if parent is not None and parent < len(cf.stages) else None
    return lines


def _executable(ins: Instruction) -> str | None:
    """The program ENTRYPOINT/CMD starts, past init wrappers; None for `sh -c ...`."""
    argv = ins.exec_form()
    words = argv if argv is not None else ins.args.split()
    for w in words:
        base = posixpath.basename(w)
        if base in _INIT_WRAPPERS or base == "exec" or (w.startswith("-") and words[0] != w):
            continue  # `ENTRYPOINT exec app`: the shell form replaces the shell with app
        if "$" in w or base in ("sh", "bash", "ash", "dash", "env"):
            return None
        return base
    return None


def _build_bin_names(repo: Repo, cf: Containerfile, b: Build) -> list[str]:
    if b.cargo.bins:
        return list(b.cargo.bins)
    names: list[str] = []
    for crate in _build_crates(repo, cf, b):
        names += list(crate.bins)
    return names


def _third_party(repo: Repo, b: Build) -> bool:
    """`cargo install cargo-chef` (or `--git URL`): a tool from elsewhere, not this
    repository's binary, unless the name is a package of its workspace."""
    if not b.cargo.installs_elsewhere:
        return False
    return (
        b.cargo.install_git is not None or repo.crate_by_name(b.cargo.install_crate or "") is None
    )


def _build_crates(repo: Repo, cf: Containerfile, b: Build) -> list[Crate]:
    stage = cf.stages[b.stage]
    if b.cargo.installs_elsewhere:
        crate = None if _third_party(repo, b) else repo.crate_by_name(b.cargo.install_crate or "")
        return [crate] if crate is not None else []
    if b.cargo.packages:
        return [c for c in (repo.crate_by_name(p) for p in b.cargo.packages) if c]
    manifest = b.cargo.manifest_path or b.cargo.install_path
    where = build_dir(b)
    if manifest:
        full = posixpath.normpath(posixpath.join(where, manifest))
        d = repo_path(stage, posixpath.dirname(full) if full.endswith(".toml") else full)
    else:
        d = repo_path(stage, where)
    if d is None:
        return []
    crate = repo.crate_at(d)
    members = repo.members_of(d)
    if crate is not None and crate not in members and (not members or crate.root is None):
        return [crate]  # a package of its own, not a workspace root
    if b.cargo.workspace:  # --workspace / --all: every member, the root package too
        return members + ([crate] if crate is not None and crate not in members else [])
    root = members[0].root if members else None
    defaults = root.workspace_default_members if root is not None else []
    if defaults:  # a plain `cargo build` at a root builds default-members
        return [
            c
            for c in members
            if any(
                fnmatch.fnmatchcase(_rel_to(d, c.dir) or ".", pat.rstrip("/") or ".")
                for pat in defaults
            )
        ]
    return [crate] if crate is not None else members  # a root package: just itself


def _rel_to(base: str, path: str) -> str:
    return path[len(base) + 1 :] if base else path


def _resolve_artifact(repo: Repo, cf: Containerfile, art: Artifact) -> list[ShippedBinary]:
    art = _producing_build(repo, cf, art)
    b = art.build
    if b is not None and _third_party(repo, b):
        return []  # a tool the image installs from crates.io or git: not this repository's
    candidates = _build_crates(repo, cf, b) if b else []
    names = [art.name]
    if art.name in ("*", ""):
        names = [n for c in candidates for n in c.bins]
    out = []
    for name in names:
        crate = _crate_for(repo, candidates, name)
        if crate is None and b is None and art.unknown_why:
            continue  # what a `make` stage holds is this repository's only when a crate makes it
        sb = _shipped(repo, cf, art, name, None if art.placeholder else crate)
        if art.placeholder:  # named like the crate's binary, built from none of its code
            sb.reasons[1] = (
                f"binary `{name}` is cargo-chef's placeholder, not crate {crate and crate.name}'s build"
            )
        out.append(sb)
    return out


def _producing_build(repo: Repo, cf: Containerfile, art: Artifact) -> Artifact:
    """Of the builds that may have made the binary (containers.py ranks them by target
    dir, triple, profile and `--bin`), the first whose packages have a bin of that name."""
    if not art.others or art.build is None or art.name in ("*", ""):
        return art
    for b in (art.build, *art.others):
        if any(art.name in c.bins for c in _build_crates(repo, cf, b)):
            return art if b is art.build else replace(art, build=b, line=b.line)
    return art


def _crate_for(repo: Repo, candidates: list[Crate], name: str) -> Crate | None:
    for c in candidates:
        if name in c.bins:
            return c
    if candidates:
        return None  # the build's crates do not make this binary: the image would not build it
    everywhere = repo.crates_with_bin(name)
    return everywhere[0] if len(everywhere) == 1 else None


def _shipped(
    repo: Repo, cf: Containerfile, art: Artifact, name: str, crate: Crate | None
) -> ShippedBinary:
    b = art.build
    reasons: list[str] = []
    triple: str | None
    if art.triple and "$" not in art.triple:
        triple, evidence = (
            art.triple,
            (art.line, f"the copied path names {art.triple} (line {art.line})"),
        )
        if b is not None and b.variants:  # the path is the assumed platform's
            evidence = (art.line, f"{evidence[1]}; {b.variants}")
    elif b is not None:
        config = repo.cargo_config_for(repo_path(cf.stages[b.stage], b.workdir) or "")
        triple, why = build_target(b, config.target if config else None)
        evidence = (_evidence_line(cf, b, why), why)
    elif art.unknown_why:
        triple, evidence = None, (art.line, art.unknown_why)
    else:
        triple, evidence = None, (art.line, "a prebuilt binary whose path names no target")
    reasons.append(f"target {triple or 'unknown'}: {evidence[1]}")
    if crate is None:
        reasons.append(f"binary `{name}` could not be mapped to a crate of this repository")
    else:
        reasons.append(f"binary `{name}` is built by crate {crate.name} ({crate.manifest.path})")
    feats = _features(crate, b)
    written = declared_targets(b)[:1] if b is not None and triple is None else []
    candidates = candidate_triples(written[0]) if written else ()
    return ShippedBinary(cf, name, crate, triple, evidence, b, feats, reasons, candidates)


def _candidates_agree(
    repo: Repo, cf: Containerfile, sb: ShippedBinary
) -> tuple[str, str, str] | None:
    """(libc, linkage, why) when every target a partly known target can be links the
    same libc the same way: `$(false)-unknown-linux-gnu` is glibc, dynamic on every arch."""
    libcs = {libc_of(t) for t in sb.candidates}
    links = {
        links_statically(t, _rustflags(repo, cf, replace(sb, triple=t))) for t in sb.candidates
    }
    if len(libcs) != 1 or len(links) != 1 or "unknown" in libcs:
        return None
    written = declared_targets(sb.build)[0] if sb.build is not None else "?"
    shown = ", ".join(sb.candidates[:3]) + (", ..." if len(sb.candidates) > 3 else "")
    why = f"the target `{written}` is one of {shown}: all {libcs.pop()}"
    return libc_of(sb.candidates[0]), "static" if links.pop() else "dynamic", why


def _evidence_line(cf: Containerfile, b: Build, why: str) -> int:
    stage = cf.stages[b.stage]
    if why == "CARGO_BUILD_TARGET":
        return stage.env_lines.get("CARGO_BUILD_TARGET", b.line)
    if why.startswith(("the default target of", "no target", "`xx-cargo`")):
        return _root_from_line(cf, stage)  # the FROM that names the builder image (its libc)
    if why.startswith("the host of the toolchain"):
        return stage.stage.from_line  # the build stage, whose RUNs brought the toolchain in
    return b.line


def _root_from_line(cf: Containerfile, stage: StageFacts) -> int:
    s = stage.stage
    while s.parent is not None:
        s = cf.stages[s.parent].stage
    return s.from_line


def _features(crate: Crate | None, b: Build | None) -> tuple[frozenset[str], frozenset[str]]:
    if crate is None:
        return frozenset(), frozenset()
    if b is None:
        return enabled_features(crate, (), True, False)
    requested = tuple(
        f.split("/", 1)[1] if f.startswith(crate.name + "/") else f for f in b.cargo.features
    )
    return enabled_features(crate, requested, not b.cargo.no_default_features, b.cargo.all_features)


def _rustflags(repo: Repo, cf: Containerfile, sb: ShippedBinary) -> str:
    if sb.build is None:
        return ""
    env = sb.build.env
    flags = env.get("RUSTFLAGS", "")
    if sb.triple:
        flags += " " + env.get(f"CARGO_TARGET_{sb.triple.upper().replace('-', '_')}_RUSTFLAGS", "")
    config = repo.cargo_config_for(repo_path(cf.stages[sb.build.stage], sb.build.workdir) or "")
    image_flags = getattr(sb.build.image, "rustflags", "") or ""
    config_flags = config_rustflags(config, sb.triple) if config and sb.triple else ""
    return " ".join(x for x in (flags, config_flags, image_flags) if x).strip()


def dep_active(
    dep: Dependency,
    triple: str,
    facts: dict[str, Any],
    feats: tuple[frozenset[str], frozenset[str]],
) -> bool:
    if dep.target is not None:
        try:
            if not target_key_matches(dep.target, triple, facts, feats[0]):
                return False
        except CfgError:  # reported as AP900 when the manifest was read
            return False
    return not dep.optional or dep.key in feats[1]


def static_active(s: AllocatorStatic, facts: dict[str, Any], features: frozenset[str]) -> bool:
    cfg = s.cfg
    return cfg is None or cfg.evaluate(facts, features)


def never_shipped(s: AllocatorStatic) -> bool:
    """Only `cargo test` compiles it (`#[cfg(test)]` on it or on its module)."""
    cfg = s.cfg
    return cfg is not None and decide(cfg, {"test": False, "doctest": False}) is False


def static_family(crate: Crate, s: AllocatorStatic, repo: Repo | None = None) -> str:
    """The allocator a static installs: its type's crate, or the allocator that type wraps.

    `Counting<tikv_jemallocator::Jemalloc>`, a local struct with a jemalloc field, or an
    initializer that hands one in, all allocate with jemalloc. A wrapper around nothing we
    can name is unknown: it may be a custom allocator, or forward to one we cannot see.
    """
    primary, decided = _path_family(crate, s, s.item.resolved, s.item.crate, repo)
    if decided:
        return primary
    inner = set()
    for path in s.item.wrapped:
        family, sure = _path_family(crate, s, path, path.split("::", 1)[0], repo)
        if sure:
            inner.add(family)
    if len(inner) == 1:
        return inner.pop()
    return "unknown" if inner else primary


def _path_family(
    crate: Crate, s: AllocatorStatic, resolved: str, head: str, repo: Repo | None
) -> tuple[str, bool]:
    """The family a type path names, and whether that settles it."""
    if resolved in allocators.SYSTEM_PATHS or head in ("std", "alloc"):
        return "system", True
    if head == "$crate" and s.macro_crate is not None and repo is not None:
        defining = repo.crate_by_name(s.macro_crate)
        named = _reexported_family(defining) if defining is not None else "unknown"
        return named, named != "unknown"
    dep = crate.dep_by_rust_name(head)
    family = allocators.family(dep.package) if dep else None
    if family:
        return family, True
    local = local_crate(repo, crate, head)
    if local is not None:
        named = _reexported_family(local)
        return named, named != "unknown"
    if dep is None and head in _LOCAL_ROOTS:
        return "unknown", False  # a type of this crate: what it forwards to is not visible
    if dep is not None and not _ALLOCATOR_NAME.search(dep.package):
        # `solar_cli::utils::Allocator`: a type of a crate that is no allocator, which
        # picks one (jemalloc, mimalloc or the system's) by its own cfg: not visible here
        return "unknown", False
    return "other", False


# a crate named like an allocator (dlmalloc, wee_alloc) is one we do not know
_ALLOCATOR_NAME = lazy_re(r"alloc|malloc")


def allocator_dependency(crate: Crate, s: AllocatorStatic) -> Dependency | None:
    """The dependency that provides the static's allocator: its type's crate, or the
    allocator crate that type wraps."""
    primary = crate.dep_by_rust_name(s.item.crate)
    if primary is not None and allocators.family(primary.package):
        return primary
    for path in s.item.wrapped:
        dep = crate.dep_by_rust_name(path.split("::", 1)[0])
        if dep is not None and allocators.family(dep.package):
            return dep
    return primary


def named_crates(s: AllocatorStatic) -> set[str]:
    """Rust crate names the static's type, initializer and wrapped fields name."""
    return {s.item.crate} | {w.split("::", 1)[0] for w in s.item.wrapped}


def local_crate(repo: Repo | None, crate: Crate, rust_name: str) -> Crate | None:
    """The repository crate a path names: the package's own lib, or a path/workspace dependency."""
    if rust_name == crate.name.replace("-", "_"):
        return crate
    dep = crate.dep_by_rust_name(rust_name)
    return repo.crate_by_name(dep.package) if repo is not None and dep is not None else None


def _reexported_family(local: Crate) -> str:
    """`pub use mimalloc::MiMalloc;` in a local crate: the allocator is that crate's allocator
    dependency when it has exactly one; otherwise we do not guess."""
    families = {allocators.family(d.package) for d in local.deps} - {None}
    return families.pop() if len(families) == 1 else "unknown"  # type: ignore[return-value]


def linked_allocator(sb: ShippedBinary, repo: Repo | None = None) -> tuple[str, str]:
    family, source, _ = _linked(sb, repo)
    return family, source


# Where a binary's target is not in the file, the targets it could have: a container
# image runs Linux, and these are the Linux targets images are built for.
_LINUX_TARGETS = {
    "glibc": (
        "x86_64-unknown-linux-gnu",
        "aarch64-unknown-linux-gnu",
        "i686-unknown-linux-gnu",
        "armv7-unknown-linux-gnueabihf",
    ),
    "musl": (
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
        "i686-unknown-linux-musl",
        "armv7-unknown-linux-musleabihf",
    ),
}


def _linked(
    sb: ShippedBinary, repo: Repo | None, libc: str = "unknown"
) -> tuple[str, str, str | None]:
    """The allocator linked into a binary, where it comes from, and why it is unknown (or,
    for a binary of unknown target, a note saying every target it could have agrees).

    `libc`: what the image it runs in proves, when its build is not known."""
    crate = sb.crate
    if crate is None:
        return "unknown", "unknown", None
    if sb.triple is None:  # only a static that no cfg gates is known without the target
        plain = [s for s in crate.statics if s.serves(sb.name) and s.cfg is None]
        if plain:
            return static_family(crate, plain[0], repo), "global_allocator", None
        # No allocator under any cfg or feature: every build of it, for any target, keeps it.
        if allocator_free(repo, crate):
            return "system", "none", None
        return _same_on_every_target(sb, repo, libc)
    if sb.build is None:  # a prebuilt binary for a known target: with what features?
        return _same_on_every_target(sb, repo, libc, (sb.triple,))
    return _linked_for(sb, repo)


def _linked_for(sb: ShippedBinary, repo: Repo | None) -> tuple[str, str, str | None]:
    """_linked for a binary of known target and features."""
    crate = sb.crate
    assert crate is not None and sb.triple is not None
    facts = cfg_facts(sb.triple)
    for s in crate.statics:
        if s.serves(sb.name) and static_active(s, facts, sb.features[0]):
            return static_family(crate, s, repo), "global_allocator", None
    reached = _linked_crates(repo, crate, sb.triple, facts, sb.features)
    for lib, lib_feats in reached:
        for s in lib.statics:
            if s.bin_only is None and static_active(s, facts, lib_feats[0]):
                return static_family(lib, s, repo), f"global_allocator in crate {lib.name}", None
    if crate.unread_macros:
        rel, line, why = crate.unread_macros[0]
        return "unknown", "unknown", f"allocator unknown: {why} ({rel}:{line})"
    unprefixed = _unprefixed_sys(crate, reached)
    for dep in crate.deps:
        if not (_activates(dep, unprefixed) and dep_active(dep, sb.triple, facts, sb.features)):
            continue
        if any(dep.rust_name in named_crates(s) for s in crate.statics):
            # The package wires it with a static in its other binaries: this one has none,
            # and links the crate only if its code uses it.
            return (
                "unknown",
                "unknown",
                (
                    f"allocator unknown: `{dep.key}` installs itself ({_activation(dep)}) "
                    f"but only other binaries of crate {crate.name} use it in a #[global_allocator]"
                ),
            )
        return allocators.activating_family(dep.package) or "other", "dependency-feature", None
    users = [c.name for c, _ in reached if _uses_unprefixed(c, unprefixed)]
    if users:
        return (
            "unknown",
            "unknown",
            (
                f"allocator unknown: jemalloc is built with unprefixed malloc and linked through "
                f"crate {users[0]}; whether it replaces malloc depends on the link"
            ),
        )
    image = sb.build.image if sb.build else None
    if image is not None and image.malloc_patched and is_musl(sb.triple):
        return image.malloc_patched, "builder-image", None
    return "system", "none", None


def _same_on_every_target(
    sb: ShippedBinary, repo: Repo | None, libc: str, triples: tuple[str, ...] = ()
) -> tuple[str, str, str | None]:
    """`#[cfg(not(target_env = "msvc"))]` on a jemalloc static decides nothing for a Linux
    image: when every Linux target the binary could be built for links the same allocator
    the same way, that is its allocator; when they differ, it stays unknown.

    A binary built outside the file was built with features nobody here can see, so the
    answer must also hold with the default features, with none and with all of them.
    """
    crate = sb.crate
    triples = (
        triples
        or sb.candidates
        or (_LINUX_TARGETS.get(libc) or (*_LINUX_TARGETS["glibc"], *_LINUX_TARGETS["musl"]))
    )
    feature_sets = {sb.features}
    if sb.build is None and crate is not None:
        feature_sets |= {
            enabled_features(crate, (), True, False),
            enabled_features(crate, (), False, False),
            enabled_features(crate, (), False, True),
        }
    answers = {
        _linked_for(replace(sb, triple=t, features=f), repo)[:2]
        for t in triples
        for f in feature_sets
    }
    if len(answers) != 1:
        return "unknown", "unknown", None
    family, source = answers.pop()
    if family in ("unknown", "other"):
        return "unknown", "unknown", None
    if family == "system" and sb.build is None and crate and _feature_gated(repo, crate, set()):
        return "unknown", "unknown", None  # a feature of a linked crate may bring one in
    if sb.triple is not None:
        return family, source, f"allocator {family} with its default features, none or all"
    if sb.candidates:
        return family, source, f"allocator {family} for every target its `--target` can be"
    kind = f"{libc} " if libc in _LINUX_TARGETS else ""
    return family, source, f"allocator {family} for every {kind}Linux target it could be built for"


def _feature_gated(repo: Repo | None, crate: Crate, seen: set[str]) -> bool:
    """An allocator some feature could switch on, here or in a repository crate linked."""
    seen.add(crate.name)
    if any(s.cfg is not None and _names_feature(s.cfg) for s in crate.statics):
        return True
    for dep in crate.deps:
        if dep.optional and (allocators.family(dep.package) or "malloc" in dep.package):
            return True
        lib = repo.crate_by_name(dep.package) if repo is not None else None
        if lib is not None and lib.name not in seen and _feature_gated(repo, lib, seen):
            return True
    return False


def _names_feature(cfg: CfgExpr) -> bool:
    todo = [cfg]
    while todo:
        e = todo.pop()
        if e.key == "feature":
            return True
        todo.extend(e.args)
    return False


def allocator_free(repo: Repo | None, crate: Crate, seen: set[str] | None = None) -> bool:
    """No #[global_allocator] and no allocator crate, under any cfg or feature, in the crate
    or the repository crates it links: whatever the target, it keeps the system allocator."""
    seen = seen if seen is not None else set()
    seen.add(crate.name)
    if crate.statics:
        return False
    for dep in crate.deps:
        if allocators.family(dep.package) is not None or "malloc" in dep.package:
            return False  # jemalloc-sys, *-ctl and friends can still replace malloc
        lib = repo.crate_by_name(dep.package) if repo is not None else None
        if lib is not None and lib.name not in seen and not allocator_free(repo, lib, seen):
            return False
    return True


def _activates(dep: Dependency, unprefixed: set[str]) -> bool:
    """The dependency installs itself: mimalloc `override`, jemalloc unprefixed (the -sys
    package built so by any crate of the build), a *-jemallocator-global crate."""
    if allocators.activates_itself(dep.package, dep.features):
        return True
    return (
        dep.package in allocators.OVERRIDE_FEATURE
        and allocators.JEMALLOC_SYS.get(dep.package) in unprefixed
    )


def _activation(dep: Dependency) -> str:
    if dep.package in allocators.SELF_INSTALLING:
        return "a *-global crate"
    feature = allocators.OVERRIDE_FEATURE.get(dep.package, "")
    return f"feature `{feature}`"


def _unprefixed_sys(crate: Crate, reached: list[tuple[Crate, Any]]) -> set[str]:
    """jemalloc -sys packages some crate of the build enables unprefixed symbols on."""
    out = set()
    for c in [crate, *(lib for lib, _ in reached)]:
        for dep in c.deps:
            sys = allocators.unprefixed_sys(dep.package, dep.features)
            if sys is not None:
                out.add(sys)
    return out


def _uses_unprefixed(crate: Crate, unprefixed: set[str]) -> bool:
    """A crate (not a workspace-hack one, which no code uses) that links an unprefixed jemalloc."""
    if not unprefixed or is_workspace_hack(crate):
        return False
    return any(allocators.JEMALLOC_USERS.get(d.package) in unprefixed for d in crate.deps)


def is_workspace_hack(crate: Crate) -> bool:
    """A cargo-hakari crate: it only unifies features; no code names it, so nothing of it links."""
    name = crate.name.replace("_", "-")
    pkg = crate.manifest.data.get("package")
    about = pkg.get("description", "") if isinstance(pkg, dict) else ""
    return name.endswith("workspace-hack") or "hakari" in str(about)


def activates_in_graph(repo: Repo | None, crate: Crate, dep: Dependency) -> bool:
    """`_activates` for a dependency of `crate`, across the crates it links (any target)."""
    if allocators.activates_itself(dep.package, dep.features):
        return True
    if dep.package not in allocators.OVERRIDE_FEATURE:
        return False  # nothing another crate enables can make it install itself
    if crate.graph_unprefixed is None:
        reached = _linked_crates(repo, crate, None, {}, enabled_features(crate, (), True, False))
        crate.graph_unprefixed = frozenset(_unprefixed_sys(crate, reached))
    return _activates(dep, set(crate.graph_unprefixed))


def _linked_crates(
    repo: Repo | None,
    crate: Crate,
    triple: str | None,
    facts: dict[str, Any],
    feats: tuple[frozenset[str], frozenset[str]],
) -> list[tuple[Crate, tuple[frozenset[str], frozenset[str]]]]:
    """The repository's crates this crate links, transitively, with their features on.

    A workspace's shared `common` crate often declares the allocator for every service.
    Without a triple, target tables are not looked at.
    """
    if repo is None:
        return []
    # Cargo unifies a package's features over every edge that reaches it: the union of
    # what each active dependency entry asks for (a target table may add features to
    # the same dependency) and what `dep/feature` forwarding in an enabled feature adds.
    asked: dict[str, tuple[frozenset[str], bool]] = {}
    order: list[Crate] = []
    todo = [(crate, feats)]
    while todo:
        here, here_feats = todo.pop()
        forwarded = _forwarded(here, here_feats[0])
        for dep in here.deps:
            lib = repo.crate_by_name(dep.package)
            if lib is None or lib.name == crate.name:
                continue
            if triple is not None and not dep_active(dep, triple, facts, here_feats):
                continue
            if triple is None and dep.optional and dep.key not in here_feats[1]:
                continue
            old = asked.get(lib.name)
            want = frozenset(dep.features) | forwarded.get(dep.key, frozenset())
            new = (
                (want | old[0], dep.default_features is not False or old[1])
                if old
                else (
                    want,
                    dep.default_features is not False,
                )
            )
            if new == old:
                continue
            if old is None:
                order.append(lib)
            asked[lib.name] = new
            todo.append((lib, enabled_features(lib, tuple(sorted(new[0])), new[1], False)))
    return [
        (lib, enabled_features(lib, tuple(sorted(asked[lib.name][0])), asked[lib.name][1], False))
        for lib in order
    ]


def _forwarded(crate: Crate, on: frozenset[str]) -> dict[str, frozenset[str]]:
    """`jemalloc = ["malloc_utils/jemalloc"]`: features an enabled feature turns on in a
    dependency (by dependency key; `dep?/feature` too, when the dependency is active)."""
    out: dict[str, set[str]] = {}
    for name in on:
        for item in crate.manifest.features.get(name, ()):
            dep, slash, feature = item.partition("/")
            if slash and not dep.startswith("dep:"):
                out.setdefault(dep.rstrip("?"), set()).add(feature)
    return {k: frozenset(v) for k, v in out.items()}


def binary_subjects(
    repo: Repo, cf: Containerfile, bins: list[ShippedBinary]
) -> list[BinarySubject]:
    final = cf.final
    if final is None:
        return []
    # The contract: LD_PRELOAD of an allocator counts as having one; a missing
    # library is AP007's finding, not a reason to also ask for mimalloc.
    pre = [allocator_of_library(p.path) for p in preloads(final)]
    pre_alloc = next((a for a in pre if a), None)
    out = []
    for sb in bins:
        libc, linkage = libc_of(sb.triple), "unknown"
        location = Location(cf.path, sb.evidence[0])
        if sb.triple is not None:
            static = links_statically(sb.triple, _rustflags(repo, cf, sb))
            linkage = "static" if static else "dynamic"
        elif sb.candidates and _candidates_agree(repo, cf, sb) is not None:
            libc, linkage, why = _candidates_agree(repo, cf, sb) or ("", "", "")
            sb.reasons.append(f"libc {libc}, linkage {linkage}: {why}")
        else:  # the build does not say; the image it runs in may
            proof = runtime_proof(final, cf.stages)
            if proof is not None:
                libc, linkage, why = proof
                sb.reasons.append(f"libc {libc}, linkage {linkage}: {why}")
                location = Location(cf.path, final.stage.from_line)
        linked, source, unknown_why = _linked(sb, repo, libc)
        if unknown_why:
            sb.reasons.append(unknown_why)
        allocator = linked
        if linked == "system" and pre_alloc and linkage == "dynamic":
            allocator, source = pre_alloc, "ld_preload"
        elif linked == "system" and pre_alloc and linkage == "unknown":
            allocator, source = "unknown", "unknown"  # the preload works if it is dynamic
        profile = (sb.crate.manifest.profile if sb.crate else None) or repo.config.default_profile
        recommended = list(PROFILE_ALLOCATORS.get(profile, ("mimalloc",)))
        # An image-level suppression may sit above the final FROM or the builder's FROM.
        anchors = [final.stage.from_line] + (
            [cf.stages[sb.build.stage].stage.from_line] if sb.build else []
        )
        out.append(
            BinarySubject(
                image=cf.path,
                stage=final.stage.name or str(final.stage.index),
                base=final.image.ref,
                runtime_libc=final.image.libc,
                binary=sb.name,
                crate=sb.crate.name if sb.crate else None,
                target=sb.triple,
                target_text=sb.triple
                or ("a target set outside this file" if sb.build is None else "an unknown target"),
                libc=libc,
                linkage=linkage,
                allocator=allocator,
                linked_allocator=linked,
                allocator_source=source,
                ld_preload_allocator=pre_alloc,
                profile=profile,
                recommended=recommended,
                recommended_text=_fmt_list(recommended),
                features=sorted(sb.features[0]),
                location=location,
                shipped=sb,
                suppression_anchors=tuple(anchors),
            )
        )
        sb.reasons.append(
            f"allocator {allocator} ({source}); linkage {linkage}; runtime libc {final.image.libc} ({final.image.reason})"
        )
    return out


# ---------------------------------------------------------------- LD_PRELOAD


def preload_subjects(
    repo: Repo, cf: Containerfile, bins: list[BinarySubject]
) -> list[LdPreloadSubject]:
    final = cf.final
    if final is None or not bins:
        return []
    linkages = {b.linkage for b in bins}
    linkage = (
        "dynamic" if "dynamic" in linkages else ("static" if linkages == {"static"} else "unknown")
    )
    out = []
    for p in preloads(final):
        lib_alloc = allocator_of_library(p.path)
        status, expected, pkg = _library_status(final, p.path, lib_alloc)
        out.append(
            LdPreloadSubject(
                image=cf.path,
                stage=final.stage.name or str(final.stage.index),
                path=p.path,
                via=p.via,
                library_allocator=lib_alloc,
                runtime_libc=final.image.libc,
                binary_linkage=linkage,
                library_status=status,
                expected_path=expected,
                expected_package=pkg,
                distro=final.image.distro,
                reason=_preload_reason(final, bins, linkage),
                status_text=_status_text(
                    status, final.image.distro, expected, pkg, final.image.package_manager
                ),
                location=Location(cf.path, p.line, end_line=p.end_line),
                preload=p,
                containerfile=cf,
            )
        )
    return out


def _library_status(
    final: StageFacts, path: str, alloc: str | None
) -> tuple[str, str | None, str | None]:
    distro = final.image.distro
    arch = arch_from_platform(final.stage.platform)
    expected = expected_paths(distro, alloc, arch) if alloc and distro else []
    exp_pkg, exp_path = expected[0] if expected else (None, None)
    if "$" in path:  # computed when the container starts, e.g. /usr/lib/$(uname -m)-linux-gnu/...
        return "unknown", exp_path, exp_pkg
    if _other_arch(path, arch):  # /usr/lib/x86_64-linux-gnu/... in a --platform=linux/arm64 stage
        return ("wrong-path" if exp_path else "missing"), exp_path, exp_pkg
    if path in final.files or any(
        path.startswith(f.rstrip("/") + "/") for f in final.files if f.endswith("/lib")
    ):
        return "provided", exp_path, exp_pkg
    if set(packages_providing(path, distro)) & set(final.packages):
        return "provided", exp_path, exp_pkg
    installed_same = [p for p in final.packages if alloc and package_allocator(p) == alloc]
    if installed_same:
        return "wrong-path", exp_path, exp_pkg
    if distro is None and final.image.libc != "static":
        return "unknown", None, None
    return "missing", exp_path, exp_pkg


def _other_arch(path: str, arch: str) -> bool:
    own = debian_triplet(arch)
    return any(f"/{t}/" in path for t in _DEBIAN_TRIPLETS if t != own)


_DEBIAN_TRIPLETS = tuple(
    debian_triplet(a)
    for a in ("x86_64", "aarch64", "armv7", "i686", "powerpc64le", "s390x", "riscv64")
)


def _status_text(
    status: str,
    distro: str | None,
    expected: str | None,
    pkg: str | None,
    manager: str | None = "apt",
) -> str:
    if status == "wrong-path":
        return (
            f"is not where `{pkg}` installs it on {distro}: use {expected}"
            if expected
            else "is not where the installed package puts it"
        )
    if status == "missing":
        hint = f"; on {distro} install `{pkg}` and use {expected}" if expected and pkg else ""
        if hint and manager is None:
            hint = f"; this image has no package manager: copy {expected} from a stage that installs `{pkg}`"
        return f"is neither installed nor copied into the final stage{hint}"
    return status


def _preload_reason(final: StageFacts, bins: list[BinarySubject], linkage: str) -> str:
    if final.image.libc == "static":
        return f"`{final.image.ref}` has no dynamic loader (a static-only image)"
    targets = sorted({b.target for b in bins if b.target})
    return f"the shipped Rust binaries are statically linked ({', '.join(targets)})"


# ---------------------------------------------------------------- Cargo and sources


def dependency_subjects(repo: Repo) -> list[DependencySubject]:
    out = []
    for crate in repo.crates:
        for dep in crate.deps:
            if _interesting(dep):
                out.append(
                    _dep_subject(
                        crate.manifest.path, dep, crate, crate.has_binary, crate.locked, repo
                    )
                )
    locks: dict[int, dict[str, list[str]]] = {}  # by root manifest: one pass, not one per manifest
    for c in repo.crates:
        if c.root is not None and c.locked:
            locks.setdefault(id(c.root), c.locked)
    for m in repo.manifests.values():
        lock = locks.get(id(m), {})
        for dep in m.workspace_dependencies.values():
            if _interesting(dep):
                out.append(_dep_subject(m.path, dep, None, False, lock, None))
    return out


def _interesting(dep: Dependency) -> bool:
    return allocators.family(dep.package) is not None or dep.package in (
        "jemalloc-ctl",
        "jemalloc-sys",
    )


def _dep_subject(
    path: str,
    dep: Dependency,
    crate: Crate | None,
    binary: bool,
    locked: dict[str, list[str]],
    repo: Repo | None,
) -> DependencySubject:
    versions = locked.get(dep.package, [])
    lv = max(versions, key=_vkey) if versions else None
    wired, wired_reason = _wired(crate, dep, repo)
    activates = (
        activates_in_graph(repo, crate, dep)
        if crate is not None
        else allocators.activates_itself(dep.package, dep.features)
    )
    return DependencySubject(
        manifest=path,
        crate=dep.package,
        key=dep.key,
        allocator=allocators.family(dep.package),
        version=dep.version,
        locked_version=lv,
        default_features=dep.default_features is not False,
        default_features_written=dep.default_features is not None,
        optional=dep.optional,
        target=dep.target,
        workspace=dep.workspace and crate is not None,
        binary_crate=binary,
        wired=wired,
        wired_reason=wired_reason,
        activates_itself=activates,
        features=list(dep.features),
        locked_text=f"; Cargo.lock has {lv}" if lv else "",
        location=Location(path, dep.line),
        dependency=dep,
        declaring_crate=crate,
    )


def _wired(
    crate: Crate | None, dep: Dependency, repo: Repo | None
) -> tuple[bool | None, str | None]:
    """Whether a static uses the dependency; None (with why) when a macro call may hide one."""
    if crate is None:
        return False, None
    family = allocators.family(dep.package)
    own = crate.name.replace("-", "_")
    for s in crate.statics:
        if dep.rust_name in named_crates(s):
            return True, None
        if s.item.crate == own and _reexported_family(crate) == family:
            return True, None
        if s.via_macro is not None and family and static_family(crate, s, repo) == family:
            return True, None  # `$crate::Jemalloc` of the macro's crate
    if crate.unread_macros:
        rel, line, why = crate.unread_macros[0]
        return None, f"{why} ({rel}:{line})"
    return False, None


def _vkey(v: str) -> tuple[int, ...]:
    return version_tuple(v)


def crate_subjects(repo: Repo) -> list[CrateSubject]:
    out = []
    for crate in repo.crates:
        m = crate.manifest
        profile = m.profile or repo.config.default_profile
        fams = [
            static_family(crate, s, repo)
            for s in crate.statics
            if not s.in_library and not never_shipped(s)
        ]
        selfinst = [
            allocators.activating_family(d.package)
            for d in crate.deps
            if activates_in_graph(repo, crate, d)
        ]
        allocator = (fams or selfinst or ["system"])[0]
        rec = list(PROFILE_ALLOCATORS.get(profile, ("mimalloc",)))
        line = m.profile_line or m.line_of("package")
        out.append(
            CrateSubject(
                manifest=m.path,
                crate=crate.name,
                binary_crate=crate.has_binary,
                profile=profile,
                profile_declared=m.profile is not None,
                allocator=allocator,
                recommended=rec,
                recommended_text=_fmt_list(rec),
                location=Location(m.path, line),
                declaring_crate=crate,
            )
        )
    return out


def static_subjects(repo: Repo, image_triples: dict[str, set[str]]) -> list[GlobalAllocatorSubject]:
    out = []
    for crate in repo.crates:
        for s in crate.statics:
            dep = allocator_dependency(crate, s)
            triples = image_triples.get(crate.name, set())
            mismatch = _mismatch(crate, s, dep, triples)
            family = static_family(crate, s, repo)
            cfg = s.cfg
            out.append(
                GlobalAllocatorSubject(
                    file=s.file,
                    crate=crate.name,
                    allocator_crate=dep.rust_name if dep is not None else s.item.crate,
                    allocator=family,
                    allocator_name=_allocator_name(family, s),
                    in_library=_in_default_library(repo, crate, s, triples),
                    cfg=str(cfg) if cfg else None,
                    dependency_cfg=_dep_gate(dep),
                    cfg_mismatch=mismatch is not None,
                    mismatch=mismatch,
                    cfg_text=_cfg_text(s),
                    dependency_cfg_text=(_dep_gate(dep) or "nothing (always present)")
                    if dep
                    else "no dependency at all",
                    location=Location(s.file, s.item.attr_line, end_line=s.item.end_line),
                    static=s,
                    declaring_crate=crate,
                    dependency=dep,
                )
            )
    return out


def _cfg_text(s: AllocatorStatic) -> str:
    if s.cfg is None:
        return "no cfg"
    if s.module_cfg is None:
        return f"#[cfg({s.cfg})]"
    return f"#[cfg({s.cfg})] (with its module's)"


def _allocator_name(family: str, s: AllocatorStatic) -> str:
    """What a message calls the allocator: its family, else the type the static names."""
    if family not in ("other", "unknown"):
        return family
    return s.item.resolved or s.item.type_text or family


def _in_default_library(
    repo: Repo, crate: Crate, s: AllocatorStatic, image_triples: set[str]
) -> bool:
    """AP009's subject: a static a library compiles with its default features.

    Not one behind a feature the library leaves off (the remedy AP009 recommends),
    not one only tests compile, not one in a cdylib/staticlib, which is a final
    artifact like a binary, and not one of a library that is nothing but its
    allocator: a binary that depends on it has chosen that allocator by name.
    """
    if not (s.in_library or not crate.has_binary) or crate.lib_is_artifact or never_shipped(s):
        return False
    if _allocator_crate(repo, crate) or _loaded_plugin(repo, crate):
        return False
    features = enabled_features(crate, (), True, False)[0]
    return any(
        static_active(s, cfg_facts(t), features)
        for t in sorted(set(BASELINE_TRIPLES) | image_triples)
    )


def _dependents(repo: Repo, crate: Crate) -> list[Crate]:
    return [c for c in repo.crates if any(d.package == crate.name for d in c.deps)]


def _loaded_plugin(repo: Repo, crate: Crate) -> bool:
    """A `crate-type = ["dylib"]` library no crate here links: a plugin the host loads at
    run time (tikv's coprocessor plugins), a final artifact whose allocator is its own."""
    types = set(crate.manifest.lib_crate_types)
    return (
        "dylib" in types
        and types <= {"dylib", "cdylib", "staticlib"}
        and not _dependents(repo, crate)
    )


def _allocator_crate(repo: Repo, crate: Crate) -> bool:
    """A library whose lib.rs holds only `#[global_allocator]` statics and their `use`s
    (uv's `uv-performance-memory-allocator`), which crates of this repository with
    binaries depend on, and no library of it: an allocator choice packaged as a crate.
    Without such a dependent it is a library for others, who never asked; a library
    that depends on it hands the allocator on the same way."""
    if crate.lib is None or crate.has_binary or any(s.file != crate.lib for s in crate.statics):
        return False
    dependents = _dependents(repo, crate)
    if not dependents or not all(c.has_binary for c in dependents):
        return False
    from allocpolicy.parsing.rust import scan_module_items_cached

    try:
        data = repo.read(crate.lib)
    except ReadError:
        return False
    return scan_module_items_cached(data).others == 0


def _dep_gate(dep: Dependency | None) -> str | None:
    if dep is None:
        return None
    parts = []
    if dep.target:
        parts.append(f"[target.'{dep.target}']")
    if dep.optional:
        parts.append("optional (enabled by a feature)")
    return " and ".join(parts) or None


_LOCAL_ROOTS = ("crate", "self", "super", "std", "alloc", "core", "$crate")


def _mismatch(
    crate: Crate, s: AllocatorStatic, dep: Dependency | None, image_triples: set[str]
) -> str | None:
    if never_shipped(s):
        return None  # a test-only static: tests build with dev-dependencies, no image does
    if dep is None:
        if s.item.crate in _LOCAL_ROOTS or s.item.crate == crate.name.replace("-", "_"):
            return None  # a bin may always use its own package's lib
        if s.item.crate.startswith("$"):
            return None  # a macro's `$ty`: what it is, the caller decides
        # the extreme mismatch: the static is always there, its crate never is
        return f"no dependency provides crate `{s.item.crate}`, so every build fails to compile"
    feature_sets = [
        enabled_features(crate, (), True, False),
        enabled_features(crate, (), True, True),
        # a static without its crate fails to compile in any build; one with no defaults is
        # what `cargo hack`/CI feature matrices run, and the usual way to drop an allocator
        enabled_features(crate, (), False, False),
    ]
    labels = ["default features", "all features", "no default features"]
    same = [d for d in crate.deps if d.rust_name == dep.rust_name]  # one per target table
    switches = [o.args[0].value for o in opt_outs(s.cfg)]

    def opted_out(features: frozenset[str]) -> bool:
        # `not(feature = "disable-mimalloc")` off under --all-features: the user's switch
        # leaving the allocator out, not a static that fails to follow its crate
        return any(f in features for f in switches)

    required = crate.bin_required.get(s.bin_only or "", ()) if not s.in_library else ()
    for triple in sorted(set(BASELINE_TRIPLES) | image_triples):
        facts = cfg_facts(triple)
        for feats in feature_sets:
            if not set(required) <= feats[0]:
                continue  # cargo skips the bin (its `required-features`): nothing to compile
            st = static_active(s, facts, feats[0])
            dp = any(dep_active(d, triple, facts, feats) for d in same)
            label = labels[feature_sets.index(feats)]
            if st and not dp:
                return f"{_article(triple)} {triple} build with {label} has the static but not the crate, so it fails to compile"
            if feats is feature_sets[2]:
                continue  # without defaults, a crate without its static is the user's choice
            other = any(
                o is not s and o.bin_only == s.bin_only and static_active(o, facts, feats[0])
                for o in crate.statics
            )  # another static of the same bins: that one is the allocator, not the system's
            if dp and not st and not other and triple in image_triples and not opted_out(feats[0]):
                return (
                    f"{_article(triple)} {triple} build with {label} has the crate but not the static, "
                    "so it silently keeps the system allocator"
                )
    return None


def _article(word: str) -> str:
    return "an" if word[:1] in "aeioux" else "a"  # "an x86_64-...", "an aarch64-..."
