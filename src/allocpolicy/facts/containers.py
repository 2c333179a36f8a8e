"""What each Containerfile builds and ships: stages, builds, binaries, LD_PRELOAD.

Data flows stage by stage in file order; a stage starts from its parent's facts
(`FROM builder AS runtime`) or from the image table's facts about its base.
"""

from __future__ import annotations

import posixpath
import re
import shlex

from allocpolicy._record import field, record, replace
from allocpolicy.facts.cargo_cmd import CargoBuild, parse_cargo
from allocpolicy.facts.images import ImageInfo, classify_image
from allocpolicy.facts.runtime import with_copied_loader
from allocpolicy.facts.shell import Command, commands, installed_packages, run_script
from allocpolicy.facts.toolchains import Toolchain, toolchain_of
from allocpolicy.facts.triples import normalize_triple, triple_from_target_path
from allocpolicy.parsing.dockerfile import Dockerfile, Instruction, Stage, parse_dockerfile

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from collections.abc import Callable


@record
class Build:
    cargo: CargoBuild
    line: int
    stage: int
    workdir: str
    env: dict[str, str]
    image: ImageInfo
    toolchain: Toolchain | None  # one a RUN installed (apk/apt/zypper rust, rustup-init)


@record
class Artifact:
    name: str
    triple: str | None  # from the path, when it names one
    build: Build | None
    line: int  # where it was produced (build) or copied


@record
class Preload:
    path: str
    via: str
    line: int
    end_line: int


@record
class StageFacts:
    stage: Stage
    image: ImageInfo
    env: dict[str, str] = field(default_factory=dict)
    env_lines: dict[str, int] = field(default_factory=dict)
    workdir: str = "/"
    builds: list[Build] = field(default_factory=list)
    packages: dict[str, int] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)  # absolute paths copied in -> line
    artifacts: dict[str, Artifact] = field(default_factory=dict)  # absolute path -> artifact
    context_map: dict[str, str] = field(default_factory=dict)  # container dir -> repo dir
    toolchain: Toolchain | None = None
    entrypoint: Instruction | None = None
    cmd: Instruction | None = None
    global_args: dict[str, str] = field(default_factory=dict, repr=False)
    # The file: its expander (shared work budget), escape character and build args.
    doc: Dockerfile = field(default_factory=lambda: parse_dockerfile(""), repr=False)

    def inherit(self, stage: Stage) -> StageFacts:
        return StageFacts(
            stage=stage,
            image=self.image,
            env=dict(self.env),
            env_lines=dict(self.env_lines),
            workdir=self.workdir,
            builds=list(self.builds),
            packages=dict(self.packages),
            files=dict(self.files),
            artifacts=dict(self.artifacts),
            context_map=dict(self.context_map),
            toolchain=self.toolchain,
            entrypoint=self.entrypoint,
            cmd=self.cmd,
            global_args=self.global_args,
            doc=self.doc,
        )


@record
class Containerfile:
    path: str
    doc: Dockerfile
    context: str  # repo-relative build context directory
    stages: list[StageFacts]

    @property
    def final(self) -> StageFacts | None:
        return self.stages[-1] if self.stages else None


_WHITESPACE = re.compile(r"[\t\v\f\r ]+")  # what BuildKit splits a legacy ENV on
_TARGET_PATH = re.compile(r"(?:^|/)target/(?:[^/]+/)?(?:release|debug|[\w-]+)/[^/]+$")


def analyze(path: str, doc: Dockerfile, context: str) -> Containerfile:
    out: list[StageFacts] = []
    for stage in doc.stages:
        if stage.parent is not None and stage.parent < len(out):
            facts = out[stage.parent].inherit(stage)
        else:
            image = classify_image(stage.base_resolved, platform=stage.platform)
            facts = StageFacts(stage=stage, image=image, global_args=dict(doc.global_args), doc=doc)
            _seed_image_env(facts)
        for ins in stage.instructions:
            _apply(facts, ins, out, context)
        with_copied_loader(facts, out)  # FROM scratch plus the glibc loader is not static-only
        out.append(facts)
    return Containerfile(path, doc, context, out)


def _seed_image_env(facts: StageFacts) -> None:
    if facts.image.target_is_forced and facts.image.builder_target:
        facts.env.setdefault("CARGO_BUILD_TARGET", facts.image.builder_target)


def _apply(facts: StageFacts, ins: Instruction, stages: list[StageFacts], context: str) -> None:
    handler = _HANDLERS.get(ins.keyword)
    if handler:
        handler(facts, ins, stages, context)


def _env(facts: StageFacts, ins: Instruction, stages: list[StageFacts], context: str) -> None:
    doc, line = facts.doc, ins.start_line
    words = doc.words(ins)
    if words and "=" not in words[0]:  # legacy `ENV KEY value words`: the rest is the value
        key, *rest = _WHITESPACE.split(ins.args.strip(), maxsplit=1)
        pairs = [(key, rest[0] if rest else "")]
    else:
        pairs = [(k, v) for k, _, v in (w.partition("=") for w in words)]
    for key, value in pairs:
        key = doc.word(key, facts.env, line)
        facts.env[key] = doc.word(value, facts.env, line)
        facts.env_lines[key] = line


def _arg(facts: StageFacts, ins: Instruction, stages: list[StageFacts], context: str) -> None:
    """BuildKit's order: a build arg, else the default, else the global ARG of that name."""
    doc = facts.doc
    for w in doc.words(ins):
        key, eq, default = w.partition("=")
        if key in doc.build_args:
            value: str | None = doc.build_args[key]
        elif eq:
            # Expanded in the stage's environment, where this ARG has no value
            # yet: ARG V=$V is empty, not a reference to itself.
            unset = frozenset() if key in facts.env else frozenset({key})
            value = doc.word(default, facts.env, ins.start_line, unset)
        else:
            value = facts.global_args.get(key)  # `ARG NAME` brings a global ARG in
        if value is not None:
            facts.env.setdefault(key, value)
            facts.env_lines.setdefault(key, ins.start_line)


def _workdir(facts: StageFacts, ins: Instruction, stages: list[StageFacts], context: str) -> None:
    target = facts.doc.word(ins.args.strip(), facts.env, ins.start_line)
    facts.workdir = _abs(facts.workdir, target)


def _run(facts: StageFacts, ins: Instruction, stages: list[StageFacts], context: str) -> None:
    script = ins.args
    if ins.heredocs:
        script = script.split("<<", 1)[0] + "\n" + "\n".join(h.body for h in ins.heredocs)
    exec_form = ins.exec_form()
    if exec_form is not None:
        # quoted back, so `["bash", "-c", "cd app && cargo build"]` stays one script
        sh_c = exec_form[:2] in (["sh", "-c"], ["/bin/sh", "-c"])
        script = " ".join(exec_form[2:]) if sh_c else shlex.join(exec_form)
    workdir = facts.workdir
    # What one command of the script did in each outcome of its `if`/`case` branches
    builds: dict[int, list[tuple[int, Build]]] = {}
    copies: dict[tuple[int, str], list[tuple[int, Artifact]]] = {}
    for cmd in run_script(script, facts.env, workdir, facts.doc.expander):
        if not cmd.argv:
            continue  # a part the shell reading could not follow
        facts.workdir = cmd.cwd  # where the command runs (`cd app && cp target/...`)
        count, before = len(facts.builds), dict(facts.artifacts)
        _run_command(facts, ins, cmd)
        for b in facts.builds[count:]:
            builds.setdefault(cmd.site, []).append((cmd.path, b))
        for path, art in facts.artifacts.items():
            if before.get(path) is not art:
                copies.setdefault((cmd.site, path), []).append((cmd.path, art))
    facts.workdir = workdir  # a `cd` lasts only for its own RUN
    for runs in builds.values():
        targets = [_written_target(b) for _, b in runs]
        if _libc_differs(targets, {path for path, _ in runs}):
            unknown = "$(one of " + ", ".join(dict.fromkeys(t or "its host" for t in targets)) + ")"
            for _, b in runs:
                b.cargo.targets = [unknown]
    for (_, dest), arts in copies.items():
        triples = [a.triple or (_written_target(a.build) if a.build else None) for _, a in arts]
        if _libc_differs(triples, {path for path, _ in arts}):
            facts.artifacts[dest] = replace(arts[-1][1], triple=None)  # the build's: unknown


def _libc_differs(targets: list[str | None], paths: set[int]) -> bool:
    """`case $P in a) T=x-musl;; b) T=y-gnu;; esac; cargo build --target $T`: libc unknown.

    One command seen in several branch outcomes with targets of different libcs;
    where they agree on the libc (two arches, both musl) the reading stands.
    """
    return len(paths) > 1 and len({None if not t or "$" in t else "musl" in t for t in targets}) > 1


def _written_target(b: Build) -> str | None:
    if b.cargo.targets:
        return b.cargo.targets[0]
    return b.cargo.config_target or b.env.get("CARGO_BUILD_TARGET")


def _run_command(facts: StageFacts, ins: Instruction, cmd: Command) -> None:
    argv = cmd.argv
    packages = installed_packages(cmd)
    for pkg in packages:
        facts.packages[pkg] = ins.start_line
    toolchain = toolchain_of(argv, packages, facts.image, facts.stage.platform, ins.start_line)
    if toolchain is not None:
        facts.toolchain = toolchain
    build = parse_cargo(cmd)
    if build is not None:
        b = Build(
            build,
            ins.start_line,
            facts.stage.index,
            cmd.cwd,
            cmd.env,
            facts.image,
            facts.toolchain,
        )
        facts.builds.append(b)
        if build.subcommand == "install":
            _record_install(facts, b)
        return
    _record_copy_command(facts, ins, argv)


def _record_install(facts: StageFacts, b: Build) -> None:
    root = (
        b.cargo.install_root
        or b.env.get("CARGO_INSTALL_ROOT")
        or b.env.get("CARGO_HOME", "/usr/local/cargo")
    )
    names = b.cargo.bins or ([b.cargo.install_crate] if b.cargo.install_crate else [])
    for name in names or ["*"]:
        path = posixpath.join(root, "bin", name)
        facts.artifacts[path] = Artifact(name, None, b, b.line)


def _record_copy_command(facts: StageFacts, ins: Instruction, argv: list[str]) -> None:
    """`cp target/x/release/app /usr/local/bin/` moves an artifact we should keep following."""
    if argv and argv[0] == "ln" and len(argv) >= 3:
        facts.files[_abs(facts.workdir, argv[-1])] = ins.start_line  # ln -s LIB LINK
        return
    if not argv or argv[0] not in ("cp", "mv", "install"):
        return
    paths = [a for a in argv[1:] if not a.startswith("-")]
    if len(paths) < 2:
        return
    dest = _abs(facts.workdir, paths[-1])
    for src in paths[:-1]:
        art = _artifact_at(facts, _abs(facts.workdir, src))
        if art is None:
            continue
        target = (
            posixpath.join(dest, art.name) if len(paths) > 2 or paths[-1].endswith("/") else dest
        )
        facts.artifacts[target] = art
        facts.artifacts[posixpath.join(dest, art.name)] = art


def _copy(facts: StageFacts, ins: Instruction, stages: list[StageFacts], context: str) -> None:
    args = ins.exec_form() or facts.doc.words(ins)
    if ins.heredocs or len(args) < 2:
        return
    *sources, dest = [facts.doc.word(a, facts.env, ins.start_line) for a in args]
    dest_abs = _abs(facts.workdir, dest)
    into_dir = dest.endswith("/") or len(sources) > 1
    origin = ins.flags.get("from")
    src_stage = _stage_by_ref(stages, origin) if origin else None
    for src in sources:
        target = (
            posixpath.join(dest_abs, posixpath.basename(src.rstrip("/"))) if into_dir else dest_abs
        )
        facts.files[target] = ins.start_line
        if origin is None:
            _copy_from_context(facts, ins, src, target, dest_abs, context)
        else:
            _copy_from_stage(facts, ins, src_stage, src, target)


def context_path(context: str, src: str) -> str:
    """The repository path a COPY source names in the build context ``context``.

    BuildKit resolves every source inside the context: a leading ``/`` is the
    context root and ``..`` stops there, so the result never leaves ``context``
    ("" is the repository root).
    """
    # normpath keeps a leading "//" (POSIX lets it mean something else), hence lstrip.
    rel = posixpath.normpath("/" + src).lstrip("/")
    if not context:
        return rel
    return posixpath.join(context, rel) if rel else context


def _copy_from_context(
    facts: StageFacts, ins: Instruction, src: str, target: str, dest_abs: str, context: str
) -> None:
    repo = context_path(context, src)
    if src.endswith("/") or repo == context:  # a directory's contents: `COPY . .`, `COPY / .`
        facts.context_map[dest_abs] = repo
    else:
        facts.context_map[target] = repo
        facts.context_map.setdefault(dest_abs, posixpath.dirname(repo))
    if _TARGET_PATH.search(src):  # a prebuilt binary from the build context
        facts.artifacts[target] = Artifact(
            posixpath.basename(src), triple_from_target_path(src), None, ins.start_line
        )


def _copy_from_stage(
    facts: StageFacts, ins: Instruction, src_stage: StageFacts | None, src: str, target: str
) -> None:
    src_abs = _abs(src_stage.workdir if src_stage else "/", src)
    art = _artifact_at(src_stage, src_abs) if src_stage else None
    if art is None and _TARGET_PATH.search(src_abs):
        build = _last_build(src_stage) if src_stage else None
        name = posixpath.basename(src_abs)
        # `target/release/*` ships every binary the build made: resolved per crate later.
        art = Artifact(
            "*" if "*" in name else name, triple_from_target_path(src_abs), build, ins.start_line
        )
    if art is not None:
        facts.artifacts[target] = replace(art, line=ins.start_line, triple=art.triple)
    if src_stage is not None:
        facts.packages.update({p: ins.start_line for p in _packages_for_file(src_stage, src_abs)})


def _packages_for_file(stage: StageFacts, path: str) -> list[str]:
    # A library copied out of a stage that installed it: remember the package so the
    # path check can tell a right path from a wrong one.
    return (
        [p for p in stage.packages if path.rsplit("/", 1)[-1].startswith("lib")]
        if "/lib" in path
        else []
    )


def _artifact_at(stage: StageFacts, path: str) -> Artifact | None:
    if path in stage.artifacts:
        return stage.artifacts[path]
    moved = _in_custom_target_dir(stage, path)
    if moved is not None:
        return moved
    m = _TARGET_PATH.search(path)
    if m and "*" not in path:
        build = _last_build(stage)
        if build is not None:
            return Artifact(
                posixpath.basename(path), triple_from_target_path(path), build, build.line
            )
    for known, art in stage.artifacts.items():
        if known.endswith("/*") and posixpath.dirname(path) == known[:-2]:
            return replace(art, name=posixpath.basename(path))
    return None


def _in_custom_target_dir(stage: StageFacts, path: str) -> Artifact | None:
    """`--target-dir /out` or CARGO_TARGET_DIR=/out put binaries at /out/[<triple>/]<profile>/<name>."""
    for b in reversed(stage.builds):
        where = b.cargo.target_dir or b.env.get("CARGO_TARGET_DIR")
        if not where or not b.cargo.produces_binaries:
            continue
        base = _abs(b.workdir, where)
        if not path.startswith(base.rstrip("/") + "/"):
            continue
        parts = path[len(base.rstrip("/")) + 1 :].split("/")
        if len(parts) in (2, 3) and "*" not in parts[-1]:
            triple = parts[0] if len(parts) == 3 else None
            return Artifact(parts[-1], triple, b, b.line)
    return None


def _last_build(stage: StageFacts) -> Build | None:
    for b in reversed(stage.builds):
        if b.cargo.produces_binaries:
            return b
    return None


def _entrypoint(
    facts: StageFacts, ins: Instruction, stages: list[StageFacts], context: str
) -> None:
    if ins.keyword == "ENTRYPOINT":
        facts.entrypoint = ins
    else:
        facts.cmd = ins


def _stage_by_ref(stages: list[StageFacts], ref: str) -> StageFacts | None:
    low = ref.lower()
    for s in stages:
        if s.stage.name == low or str(s.stage.index) == ref:
            return s
    return None


def _abs(workdir: str, path: str) -> str:
    """A container path made absolute and clean; "//x" is "/x" there, as Go's path.Clean has it."""
    return "/" + posixpath.normpath(posixpath.join(workdir or "/", path)).lstrip("/")


_HANDLERS: dict[str, Callable[[StageFacts, Instruction, list[StageFacts], str], None]] = {
    "ENV": _env,
    "ARG": _arg,
    "WORKDIR": _workdir,
    "RUN": _run,
    "COPY": _copy,
    "ADD": _copy,
    "ENTRYPOINT": _entrypoint,
    "CMD": _entrypoint,
}


def preloads(stage: StageFacts) -> list[Preload]:
    """LD_PRELOAD in effect when the stage's container starts."""
    out: list[Preload] = []
    if "LD_PRELOAD" in stage.env and stage.env["LD_PRELOAD"].strip():
        line = stage.env_lines.get("LD_PRELOAD", stage.stage.from_line)
        for p in _split_preload(stage.env["LD_PRELOAD"]):
            out.append(Preload(p, "ENV", line, line))
    for ins in (stage.entrypoint, stage.cmd):
        if ins is None:
            continue
        for p in _preload_in_command(ins, stage):
            out.append(Preload(p, ins.keyword, ins.start_line, ins.end_line))
    return out


def _split_preload(value: str) -> list[str]:
    return [p for p in re.split(r"[:\s]+", value.strip().strip("\"'")) if p]


def _preload_in_command(ins: Instruction, stage: StageFacts) -> list[str]:
    argv = ins.exec_form()
    script = " ".join(argv) if argv is not None else ins.args
    if argv and len(argv) >= 3 and argv[1] == "-c":
        script = argv[2]
    found = []
    for cmd in commands(script):
        if "LD_PRELOAD" in cmd.env:
            found += _split_preload(stage.doc.shell(cmd.env["LD_PRELOAD"], stage.env))
    return found


def build_target(b: Build, config_target: str | None) -> tuple[str | None, str]:
    """The triple a build compiles for, and why; None when it is an unresolved variable."""
    triple, why = _build_target(b, config_target)
    if triple is not None and "$" in triple:  # as written: `${RUST_TARGET}` keeps its case
        return None, f"the target is `{triple}`, a variable with no value here ({why})"
    return (normalize_triple(triple) if triple is not None else None), why


def _build_target(b: Build, config_target: str | None) -> tuple[str | None, str]:
    """Cargo's precedence: --target, --config, CARGO_BUILD_TARGET, .cargo/config, the host."""
    if b.cargo.targets:
        return b.cargo.targets[0], f"`--target {b.cargo.targets[0]}` on line {b.line}"
    if b.cargo.config_target:
        return b.cargo.config_target, f"`--config build.target` on line {b.line}"
    if "CARGO_BUILD_TARGET" in b.env:
        return b.env["CARGO_BUILD_TARGET"], "CARGO_BUILD_TARGET"
    if config_target:
        return config_target, "build.target in .cargo/config.toml"
    if b.toolchain is not None:  # the toolchain a RUN installed is the host
        return b.toolchain.host, f"the host of the toolchain installed by {b.toolchain.why}"
    if b.image.builder_target:
        return b.image.builder_target, f"the default target of `{b.image.ref}`"
    return None, f"no target given and `{b.image.ref}` is not a known Rust builder"
