"""What each Containerfile builds and ships: stages, builds, binaries, LD_PRELOAD.

Data flows stage by stage in file order; a stage starts from its parent's facts
(`FROM builder AS runtime`) or from the image table's facts about its base.
"""

from __future__ import annotations

import fnmatch
import itertools
import posixpath
import re
import shlex

from allocpolicy._lazyre import lazy_re
from allocpolicy._record import field, record, replace
from allocpolicy.facts.cargo_cmd import SHELL_KEYWORDS, CargoBuild, parse_cargo
from allocpolicy.facts.images import GLIBC, MUSL, ImageInfo, classify_image
from allocpolicy.facts.recipes import command_output, task_run
from allocpolicy.facts.runtime import with_copied_loader
from allocpolicy.facts.shell import Command, commands, installed_packages, run_script
from allocpolicy.facts.toolchains import Toolchain, toolchain_of
from allocpolicy.facts.triples import (
    arch_from_platform,
    is_musl,
    links_statically,
    normalize_triple,
    triple_for,
    triple_from_target_path,
    triple_in_archive_name,
    triple_named_in,
)
from allocpolicy.parsing.dockerfile import Dockerfile, Instruction, Stage, parse_dockerfile

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


@record
class Build:
    cargo: CargoBuild
    line: int
    stage: int
    workdir: str
    env: dict[str, str]
    image: ImageInfo
    toolchain: Toolchain | None  # one a RUN installed (apk/apt/zypper rust, rustup-init)
    variants: str = ""  # FROM build_${TARGETARCH}: which stages it may be, and what they share


@record
class Artifact:
    name: str
    triple: str | None  # from the path, when it names one
    build: Build | None
    line: int  # where it was produced (build) or copied
    # Other builds of the stage that may have made it, best first: which one did is
    # decided by the crates their `-p` selects (subjects.py), which need the repository.
    others: tuple[Build, ...] = ()
    unknown_why: str | None = None  # no build facts: made by `make`, a build script...
    placeholder: bool = False  # cargo-chef's stand-in for the crate's binary: not its code


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
    dirs: dict[str, int] = field(default_factory=dict)  # directories made (mkdir, COPY) -> line
    # Directories copied whole from a stage: dest -> (that stage, its dir), read on lookup.
    linked_dirs: dict[str, tuple[StageFacts, str]] = field(default_factory=dict, repr=False)
    scripts: list[tuple[int, str]] = field(default_factory=list)  # (line, `make`...) builds unread
    # `COPY ${BIN} ./`: directory -> (line, source as written) of a copy whose file name is
    # a variable with no value here; a later RUN that names a file there tells the name.
    unnamed_copies: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    named_files: dict[str, tuple[int, str]] = field(default_factory=dict)  # path -> (line, why)
    toolchain: Toolchain | None = None
    variants: str = ""  # FROM build_${TARGETARCH}: which stages it may be, and what they share
    # Files the stage's RUNs wrote with `echo ... >> /file`: their lines, for a later `. /file`
    written: dict[str, list[str]] = field(default_factory=dict)
    entrypoint: Instruction | None = None
    cmd: Instruction | None = None
    # `tar -xf app-x86_64-unknown-linux-musl.tar.gz`: (line, archive, triple, arch assumed)
    # of a release archive the stage unpacked; what it holds was built for that triple
    unpacked: tuple[int, str, str, bool] | None = None
    # paths (or directories) copied from such a stage -> (line, triple, why, archive)
    prebuilt: dict[str, tuple[int, str, str, str]] = field(default_factory=dict)
    global_args: dict[str, str] = field(default_factory=dict, repr=False)
    # The file: its expander (shared work budget), escape character and build args.
    doc: Dockerfile = field(default_factory=lambda: parse_dockerfile(""), repr=False)
    # A repository file's text through the bounded reader (a Makefile a RUN runs), or None.
    read: Callable[[str], str | None] | None = field(default=None, repr=False)

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
            dirs=dict(self.dirs),
            linked_dirs=dict(self.linked_dirs),
            scripts=list(self.scripts),
            unnamed_copies={d: list(c) for d, c in self.unnamed_copies.items()},
            named_files=dict(self.named_files),
            toolchain=self.toolchain,
            variants=self.variants,
            written={f: list(lines) for f, lines in self.written.items()},
            entrypoint=self.entrypoint,
            cmd=self.cmd,
            unpacked=self.unpacked,
            prebuilt=dict(self.prebuilt),
            global_args=self.global_args,
            doc=self.doc,
            read=self.read,
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


_WHITESPACE = lazy_re(r"[\t\v\f\r ]+")  # what BuildKit splits a legacy ENV on
_TARGET_PATH = lazy_re(r"(?:^|/)target/(?:[^/]+/)?(?:release|debug|[\w-]+)/[^/]+$")


def analyze(
    path: str,
    doc: Dockerfile,
    context: str,
    local_images: Mapping[str, tuple[str, StageFacts]] | None = None,
    read: Callable[[str], str | None] | None = None,
) -> Containerfile:
    """`local_images`: image name -> (file, last stage) of the images this repository builds;
    `read`: a repository file's text, bounded (the Makefile or justfile a RUN runs)."""
    out: list[StageFacts] = []
    for stage in doc.stages:
        variants = _platform_variants(stage, out) if stage.parent is None else []
        if stage.parent is not None and stage.parent < len(out):
            facts = out[stage.parent].inherit(stage)
        elif variants:
            facts = _from_variants(stage, variants)
        else:
            image = classify_image(stage.base_resolved, platform=stage.platform)
            facts = StageFacts(
                stage=stage, image=image, global_args=dict(doc.global_args), doc=doc, read=read
            )
            if image.libc == "unknown" and local_images:
                _from_local_image(facts, local_images)
            _seed_image_env(facts)
        for ins in stage.instructions:
            _apply(facts, ins, out, context)
        with_copied_loader(facts, out)  # FROM scratch plus the glibc loader is not static-only
        out.append(facts)
    return Containerfile(path, doc, context, out)


# What BuildKit gives the platform ARGs on the platform this reading assumes (linux/amd64,
# as for `xx-cargo`) when the build names none.
_PLATFORM_DEFAULTS = {
    "TARGETPLATFORM": "linux/amd64",
    "TARGETOS": "linux",
    "TARGETARCH": "amd64",
    "TARGETVARIANT": "",
    "BUILDPLATFORM": "linux/amd64",
    "BUILDOS": "linux",
    "BUILDARCH": "amd64",
    "BUILDVARIANT": "",
}
_PLAIN_VAR = lazy_re(r"\$\{(\w+)\}|\$(\w+)")
_MAX_VARIANTS = 16
_DIFFER = "which differ:"


def _platform_variants(stage: Stage, earlier: list[StageFacts]) -> list[StageFacts]:
    """`FROM build_${TARGETARCH}${TARGETVARIANT}`: the earlier stages it may name, one
    per platform (`build_amd64`, `build_arm64`...); none when a word is not a platform ARG."""
    base = stage.base_resolved.lower()
    names = [m.group(1) or m.group(2) for m in _PLAIN_VAR.finditer(stage.base_resolved)]
    if not names or any(n not in _PLATFORM_DEFAULTS for n in names):
        return []
    pattern = _PLAIN_VAR.sub("*", base)
    if "$" in pattern or not pattern.strip("*") or _GLOB.search(pattern.replace("*", "")):
        return []
    found = [s for s in earlier if s.stage.name and fnmatch.fnmatchcase(s.stage.name, pattern)]
    return found[:_MAX_VARIANTS]


def _default_target(stage: StageFacts) -> str | None:
    """What a plain `cargo build` in the stage compiles for, as far as the stage says."""
    named = stage.env.get("CARGO_BUILD_TARGET")
    if named:
        return named
    if stage.toolchain is not None:
        return stage.toolchain.host
    return stage.image.builder_target


def _build_kind(stage: StageFacts) -> str:
    """What matters of a builder stage for its builds: its libc, and its default target's."""
    target = _default_target(stage)
    if not target or "$" in target:
        return f"{stage.image.libc} image, target unknown"
    flags = " ".join((stage.env.get("RUSTFLAGS", ""), stage.image.rustflags))
    env = "musl" if is_musl(target) else ("gnu" if "-gnu" in target else "other")
    linkage = "static" if links_statically(target, flags) else "dynamic"
    return f"{stage.image.libc} image, {env} {linkage} target"


def _from_variants(stage: Stage, variants: list[StageFacts]) -> StageFacts:
    """A stage FROM one of several, chosen by the platform. Where they agree on what a
    build there depends on (the image's libc, the default target's libc and linkage), the
    one of the assumed platform stands for all; else what differs is unknown."""
    chosen = _PLAIN_VAR.sub(
        lambda m: _PLATFORM_DEFAULTS[m.group(1) or m.group(2)], stage.base_resolved
    ).lower()
    rep = next((v for v in variants if v.stage.name == chosen), variants[0])
    facts = rep.inherit(stage)
    kinds = {v.stage.name: _build_kind(v) for v in variants}
    listing = ", ".join(f"`{n}`" for n in kinds)
    if len(set(kinds.values())) == 1:
        facts.variants = (
            f"`FROM {stage.base_resolved}` is one of {listing}, which agree ({kinds[rep.stage.name]}): "
            f"read as `{rep.stage.name}`"
        )
        return facts
    facts.variants = f"`FROM {stage.base_resolved}` is one of {len(kinds)}, {_DIFFER} " + ", ".join(
        f"`{n}` ({k})" for n, k in kinds.items()
    )
    libcs = {v.image.libc for v in variants}
    facts.image = replace(
        rep.image,
        ref=stage.base_resolved,
        libc=rep.image.libc if len(libcs) == 1 else "unknown",
        builder_target=None,
        target_is_forced=False,
        rustflags="",
        reason=facts.variants,
    )
    for key in {k for v in variants for k in v.env}:
        if len({v.env.get(key) for v in variants}) > 1:
            facts.env[key] = "${" + key + "}"  # what differs is unknown, as a merged branch
    if len({v.toolchain for v in variants}) > 1:
        facts.toolchain = None
    return facts


def image_name(ref: str) -> str:
    """The repository's last path segment: `ghcr.io/org/build-tools:pinned` -> `build-tools`."""
    name = ref.split("@", 1)[0].rsplit("/", 1)[-1]
    return name.split(":", 1)[0].lower()


def image_keys(ref: str) -> list[str]:
    """What a local image may be called by: its name, then its tag (`org/app:alpine-base`,
    built from `Dockerfile.alpine-base`); `latest` and version tags name no file."""
    last = ref.split("@", 1)[0].rsplit("/", 1)[-1]
    name, _, tag = last.partition(":")
    keys = [name.lower()]
    if tag and tag != "latest" and not tag[:1].isdigit() and "$" not in tag:
        keys.append(tag.lower())
    return keys


def _from_local_image(facts: StageFacts, local: Mapping[str, tuple[str, StageFacts]]) -> None:
    """FROM an image another Containerfile of this repository builds: start from its facts.

    Its environment, toolchain and packages carry over, as from a stage; its builds and
    files do not: their lines belong to the other file, and what a later stage ships
    from here is built here.
    """
    found = next((local[k] for k in image_keys(facts.stage.base_resolved) if k in local), None)
    if found is None:
        return
    where, base = found
    facts.image = replace(
        base.image,
        ref=facts.stage.base_resolved,
        reason=f"built by {where} in this repository, FROM {base.image.ref}: {base.image.reason}",
    )
    facts.env = dict(base.env)
    facts.workdir = base.workdir
    facts.packages = {p: facts.stage.from_line for p in base.packages}
    if base.toolchain is not None:
        why = f"{base.toolchain.why} in {where}"
        facts.toolchain = replace(base.toolchain, why=why, line=facts.stage.from_line)
    line = facts.stage.from_line
    for path, art in base.artifacts.items():  # the binaries that image holds, built there
        why = f"`{path}` is in `{facts.stage.base_resolved}`, which {where} builds"
        facts.artifacts[path] = Artifact(art.name, art.triple, None, line, unknown_why=why)


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
    if "$" not in facts.workdir:  # WORKDIR makes it: a directory, not a file of that name
        facts.dirs.setdefault(facts.workdir, ins.start_line)


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
    _record_writes(facts, script)
    script = _inline_sourced(facts, script)
    mapped = dict(facts.context_map)
    facts.context_map.update(_bind_mounts(facts, ins, context))  # for this RUN only
    # What one command of the script did in each outcome of its `if`/`case` branches
    builds: dict[int, list[tuple[int, Build]]] = {}
    copies: dict[tuple[int, str], list[tuple[int, Artifact]]] = {}
    output = _output_reader(facts)
    for cmd in run_script(script, facts.env, workdir, facts.doc.expander, output):
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
    facts.context_map = mapped
    for site, runs in builds.items():
        runs = builds[site] = _drop_failed(facts, runs)
        targets = [_written_target(b) for _, b in runs]
        if _libc_differs(targets, {path for path, _ in runs}):
            unknown = "$(one of " + ", ".join(dict.fromkeys(t or "its host" for t in targets)) + ")"
            for _, b in runs:
                b.cargo.targets = [unknown]
    for (_, dest), arts in copies.items():
        triples = [a.triple or (_written_target(a.build) if a.build else None) for _, a in arts]
        if _libc_differs(triples, {path for path, _ in arts}):
            facts.artifacts[dest] = replace(arts[-1][1], triple=None)  # the build's: unknown


_UNSET = lazy_re(r"\$[A-Za-z_]\w*")  # the reader writes an unset name as `$NAME`

# `echo "export T=${CARGO_BUILD_TARGET}" >> /env-cargo`: a line the RUN writes to a file
# (the parsed script drops redirections, so they are read from its text).
_QUOTED_OR_BARE = r"""(?:"(?:[^"\\]|\\.)*"|'[^']*'|[^\s;&|<>"'()]+)"""
_ECHO_TO_FILE = lazy_re(
    rf"(?:^|[;&|(\n])[ \t]*echo((?:[ \t]+{_QUOTED_OR_BARE})+)[ \t]*(>>?)[ \t]*(/[\w./-]+)"
)
# `. /env-cargo` or `source /env-cargo` as a command of its own
_SOURCE = lazy_re(
    r"""(^|[;&|(\n])([ \t]*)(?:\.|source)[ \t]+(["']?)(/[\w./-]+)\3(?=[ \t]*(?:[;&|)\n]|$))"""
)
# What a sourced line may be to be read back: an assignment (exported or not), no other
# command, so a file of anything else cannot break the reading of the RUN that sources it.
_ASSIGNMENT = lazy_re(
    r"""(?:export[ \t]+)?[A-Za-z_]\w*="""
    r"""(?:"[^"`\\]*"|'[^']*'|(?:[^\s;&|<>`'"{}$()\\]|\$\w+|\$\{\w+\}|\$\([^\s;&|<>`'"{}()]*\))*)"""
)
_MAX_WRITTEN = 16  # files a stage's RUNs write lines to, that are followed
_MAX_WRITTEN_LINES = 64
_MAX_SOURCED = 8  # `. /file` inlined per RUN


def _record_writes(facts: StageFacts, script: str) -> None:
    """The lines `echo ... >> /file` (or `>`) writes, as the RUN's shell expands them."""
    for m in itertools.islice(_ECHO_TO_FILE.finditer(script), _MAX_WRITTEN_LINES):
        path = posixpath.normpath(m.group(3))
        if path not in facts.written and len(facts.written) >= _MAX_WRITTEN:
            continue
        said = run_script("echo" + m.group(1), facts.env, facts.workdir, facts.doc.expander)
        argv = said[0].argv[1:] if said and said[0].argv else None
        while argv and argv[0] in ("-n", "-e", "-E"):
            argv = argv[1:]
        lines = " ".join(argv).split("\n") if argv is not None else ["${unread}"]
        old = facts.written.get(path, []) if m.group(2) == ">>" else []
        facts.written[path] = (old + lines)[:_MAX_WRITTEN_LINES]


def _inline_sourced(facts: StageFacts, script: str) -> str:
    """`. /env-cargo` of a file an earlier RUN wrote: its assignments, read in place."""
    if not facts.written:
        return script

    def inline(m: re.Match[str]) -> str:
        lines = facts.written.get(posixpath.normpath(m.group(4)))
        kept = [ln.strip() for ln in lines or () if _ASSIGNMENT.fullmatch(ln.strip())]
        if lines is None or not kept:
            return m.group(0)
        return f"{m.group(1)}{m.group(2)}{{ {'; '.join(kept)}; }}"

    return _SOURCE.sub(inline, script, count=_MAX_SOURCED)


def mount_options(value: str) -> dict[str, str]:
    """`type=cache,target=/x,from=builder` as a dict (a bare `ro` flag maps to "")."""
    return {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in value.split(",")) if k}


def _bind_mounts(facts: StageFacts, ins: Instruction, context: str) -> dict[str, str]:
    """`RUN --mount=target=.` (type bind, from the context): the context is at the target
    while the RUN runs; `source=sub` mounts a subdirectory of it."""
    out: dict[str, str] = {}
    for name, value in ins.flag_items:
        if name != "mount":
            continue
        opts = mount_options(value)
        if opts.get("type", "bind") != "bind" or "from" in opts:
            continue
        target = opts.get("target") or opts.get("dst") or opts.get("destination")
        if target:
            where = _abs(facts.workdir, facts.doc.word(target, facts.env, ins.start_line))
            out[where] = context_path(context, opts.get("source", opts.get("src", "")))
    return out


def _drop_failed(facts: StageFacts, runs: list[tuple[int, Build]]) -> list[tuple[int, Build]]:
    """Outcomes whose `--target` is a variable left unset, beside ones that set it.

    `case $ARCH in amd64) T=x86_64-...;; *) echo unsupported;; esac && cargo build
    --target "$T"`: with T unset cargo refuses the empty target, so that outcome
    builds nothing; the outcomes that set it are the builds.
    """
    failed = [(p, b) for p, b in runs if _UNSET.fullmatch(_written_target(b) or "")]
    if not failed or len(failed) == len(runs):
        return runs
    gone = {id(b) for _, b in failed}
    facts.builds = [b for b in facts.builds if id(b) not in gone]
    return [(p, b) for p, b in runs if id(b) not in gone]


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


def _run_command(facts: StageFacts, ins: Instruction, cmd: Command, depth: int = 0) -> None:
    argv = cmd.argv
    packages = installed_packages(cmd)
    for pkg in packages:
        facts.packages[pkg] = ins.start_line
    toolchain = toolchain_of(argv, packages, facts.image, facts.stage.platform, ins.start_line)
    if toolchain is not None:
        facts.toolchain = toolchain
    if facts.read is not None and depth < _MAX_TASK_DEPTH:
        repo_dir = lambda p: repo_path(facts, p)  # noqa: E731
        task = task_run(argv, cmd.cwd, cmd.env, repo_dir, facts.read, _host(facts))
        if task is not None and task.lines is not None:
            _run_task(facts, ins, cmd, task.lines, task.directory, depth)
            return  # else: a driver whose build is not read (below)
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
            facts.variants,
        )
        facts.builds.append(b)
        if build.subcommand == "install":
            _record_install(facts, b)
        return
    _record_copy_command(facts, ins, argv)


_MAX_TASK_DEPTH = 4  # `make` running `$(MAKE) -C sub` running `just` ...


def _run_task(
    facts: StageFacts, ins: Instruction, cmd: Command, lines: list[str], where: str, depth: int
) -> None:
    """The recipe's lines, each in a shell of its own (as make and just run them), in
    the directory of the Makefile or justfile; just's exports reach every line."""
    exports = [line for line in lines if line.startswith("export ")]
    here = facts.workdir
    output = _output_reader(facts)
    for line in lines:
        if line.startswith("export "):
            continue
        script = "\n".join([*exports, line])
        for sub in run_script(script, cmd.env, where, facts.doc.expander, output):
            if sub.argv:
                facts.workdir = sub.cwd
                _run_command(facts, ins, sub, depth + 1)
    facts.workdir = here


def _host(facts: StageFacts) -> str | None:
    """The host triple of the stage's toolchain (a justfile may ask rustc for it)."""
    if facts.toolchain is not None:
        return facts.toolchain.host
    image = facts.image
    return image.builder_target if not image.target_is_forced else None


_SUBSTITUTION_COST = 4096  # a file's budget (8 Mi units) pays for some 2000 `$(just …)`


def _output_reader(facts: StageFacts) -> Callable[[Command], str | None] | None:
    """What `$(just …)` in a RUN prints, read from the justfile; its work is charged to
    the file's budget."""
    read = facts.read
    if read is None:
        return None

    def output(cmd: Command) -> str | None:
        expander = facts.doc.expander
        expander.left -= _SUBSTITUTION_COST  # finding and reading the justfile, at least
        if expander.left <= 0:
            return None  # the file's reading budget is spent
        text, spent = command_output(
            cmd.argv,
            cmd.cwd,
            cmd.env,
            lambda p: repo_path(facts, p),
            read,
            _host(facts),
            expander.left,
        )
        expander.left -= spent
        return text

    return output


def _record_install(facts: StageFacts, b: Build) -> None:
    root = (
        b.cargo.install_root
        or b.env.get("CARGO_INSTALL_ROOT")
        or b.env.get("CARGO_HOME", "/usr/local/cargo")
    )
    # A crate from a registry is installed under its own name: a later `cargo install
    # --path .` into the same bin directory must not be mistaken for it.
    names = b.cargo.bins or ([b.cargo.install_crate] if b.cargo.install_crate else [])
    for name in names or ["*"]:
        path = posixpath.join(_abs(build_dir(b), root), "bin", name)
        _put(facts, path, Artifact(name, None, b, b.line))


def build_dir(b: Build) -> str:
    """Where cargo runs: the workdir, moved by `cd`, `env -C dir` or `cargo -C dir`."""
    return _abs(b.workdir, b.cargo.chdir) if b.cargo.chdir else b.workdir


def _record_copy_command(facts: StageFacts, ins: Instruction, argv: list[str]) -> None:
    """`cp target/x/release/app /usr/local/bin/` moves an artifact we should keep following;
    `mkdir` makes a directory a later move lands in; `make` may run a build we cannot read."""
    while argv and argv[0] in SHELL_KEYWORDS:  # `then cp ...`, as the reader splits an `if`
        argv = argv[1:]
    if not argv:
        return
    tool = posixpath.basename(argv[0])
    line = ins.start_line
    if "/" in argv[0]:  # `./app --version` runs a file of the image
        _name_file(facts, _abs(facts.workdir, argv[0]), line, "run")
    if tool in _FILE_TOOLS:
        operands, opts = _operands(argv[1:], _FILE_TOOLS[tool])
        if tool in ("chmod", "chown") and operands and "--reference" not in opts:
            operands = operands[1:]  # the mode or the owner
        if not {"-R", "--recursive"} & opts.keys():  # a directory's files are not named
            for path in operands:
                _name_file(facts, _abs(facts.workdir, path), line, f"`{tool}`")
    elif tool in _MOVE_OPTIONS:
        _move(facts, line, tool, argv[1:])
    elif tool == "mkdir":
        for d in _operands(argv[1:], {"-m", "--mode"})[0]:
            facts.dirs[_abs(facts.workdir, d)] = line
    elif tool == "find":
        _find(facts, line, argv[1:])
    elif tool in ("tar", "bsdtar", "unzip"):
        _unpack(facts, line, tool, argv[1:])
    else:
        script = _build_script(argv)
        if script is not None:
            facts.scripts.append((line, script))


def _unpack(facts: StageFacts, line: int, tool: str, args: list[str]) -> None:
    """`tar -xzf app-v1-x86_64-unknown-linux-musl.tar.gz`: a release archive unpacked
    here. Its name says the target its binaries were built for (subjects.py uses it for
    a binary of this repository that the image copies out of this stage)."""
    words = args[:_MAX_OPERANDS]
    if tool != "unzip":
        first = words[0] if words else ""
        bundled = first if first and not first.startswith("-") else ""  # `tar xzf a.tgz`
        if "x" not in bundled and not any(
            w == "--extract" or (w.startswith("-") and not w.startswith("--") and "x" in w)
            for w in words
        ):
            return  # `tar -czf`: it makes an archive, it unpacks none
    for w in words:
        if w.startswith("-"):
            continue
        found = triple_in_archive_name(w)
        if found is not None:
            facts.unpacked = (line, w, found[0], found[1])
            return


# Commands that act on files they name, with their options that take a value.
_FILE_TOOLS: dict[str, frozenset[str]] = {
    "chmod": frozenset(),
    "chown": frozenset(),
    "strip": frozenset({"-o", "-R", "--remove-section", "-K", "-N"}),
    "upx": frozenset({"-o"}),
}


def _name_file(facts: StageFacts, path: str, line: int, how: str) -> None:
    """`COPY ${CLI_PATH} ./` then `chmod +x ./app-cli`: the RUN tells what the copied file
    is called. A file named like a bin target of the repository is that binary, built
    elsewhere (subjects.py decides, and keeps a repository file from being one)."""
    copied = facts.unnamed_copies.get(posixpath.dirname(path))
    name = posixpath.basename(path)
    if not copied or "$" in path or _GLOB.search(name) or not is_binary_name(name):
        return
    if path in facts.files or path in facts.artifacts or path in facts.named_files:
        return  # a file the Containerfile put there itself, whose origin is known
    lines = " or ".join(dict.fromkeys(str(c[0]) for c in copied))
    sources = " or ".join(dict.fromkeys(f"`{c[1]}`" for c in copied))
    why = (
        f"`{path}` ({how} on line {line}) is what line {lines} copied from {sources}, "
        f"{'a path' if len(copied) == 1 else 'paths'} with no value here"
    )
    facts.named_files[path] = (copied[0][0], why)


# Options of cp/mv/install/ln that take a value; -t/--target-directory names the destination.
_MOVE_OPTIONS: dict[str, frozenset[str]] = {
    "cp": frozenset({"-t", "--target-directory", "-S", "--suffix"}),
    "mv": frozenset({"-t", "--target-directory", "-S", "--suffix"}),
    "ln": frozenset({"-t", "--target-directory", "-S", "--suffix"}),
    "install": frozenset(
        {"-m", "--mode", "-o", "--owner", "-g", "--group", "-t", "--target-directory", "-S"}
    ),
}
_MAX_UNNAMED = 8  # unnamed copies into one directory that a message lists
_MAX_OPERANDS = 256  # hostile input: a RUN with a million words is read this far


def _operands(
    args: list[str], valued: frozenset[str] | set[str]
) -> tuple[list[str], dict[str, str]]:
    """Operands and options (`-t DIR`, `--mode=755`, `-rf` as `-r` and `-f`) of a command."""
    operands: list[str] = []
    opts: dict[str, str] = {}
    i = 0
    while i < len(args) and len(operands) < _MAX_OPERANDS:
        a = args[i]
        name, eq, inline = a.partition("=")
        if a == "--":
            operands += args[i + 1 : i + 1 + _MAX_OPERANDS]
            break
        if a.startswith("--") and eq:
            opts[name] = inline
        elif a in valued and i + 1 < len(args):
            opts[a] = args[i + 1]
            i += 1
        elif a.startswith("--"):
            opts[a] = ""
        elif a.startswith("-") and len(a) > 1:
            opts.update({"-" + c: "" for c in a[1:]})
        else:
            operands.append(a)
        i += 1
    return operands, opts


def _move(facts: StageFacts, line: int, tool: str, args: list[str]) -> None:
    operands, opts = _operands(args, _MOVE_OPTIONS[tool])
    if tool == "install" and "-d" in opts:  # install -d DIR...: makes directories
        facts.dirs.update({_abs(facts.workdir, d): line for d in operands})
        return
    target_dir = opts.get("-t", opts.get("--target-directory"))
    if target_dir is not None:
        sources, dest, into = operands, target_dir, True
    elif len(operands) >= 2:
        sources, dest = operands[:-1], operands[-1]
        dest_abs = _abs(facts.workdir, dest)
        into = "-T" not in opts and (
            len(sources) > 1 or dest.endswith("/") or _is_dir(facts, dest_abs)
        )
    else:
        return
    dest_abs = _abs(facts.workdir, dest)
    if into:
        facts.dirs.setdefault(dest_abs, line)
    tree = tool == "mv" or bool({"-r", "-R", "-a", "--recursive", "--archive"} & opts.keys())
    for src in sources:
        target = posixpath.join(dest_abs, posixpath.basename(_abs("/", src))) if into else dest_abs
        if src.endswith("/.") and tree:  # cp -r dir/. dest: the contents
            target = dest_abs
        if tool == "ln":
            symbolic = "-s" in opts or "--symbolic" in opts
            _link(facts, line, src, target, symbolic and "-r" not in opts)
            continue
        src_abs = _abs(facts.workdir, src)
        _name_file(facts, src_abs, line, f"`{tool}`")
        if tree and _is_dir_source(facts, src, src_abs):
            _copy_tree(facts, facts, src_abs, target, line)
            continue
        art = _artifact_at(facts, src_abs) or _from_context(facts, src_abs, line)
        if art is not None:
            _put(facts, posixpath.join(dest_abs, "*") if "*" in target else target, art)
        if tool == "install" and "-D" in opts:
            facts.dirs.setdefault(posixpath.dirname(target), line)


def _from_context(facts: StageFacts, path: str, line: int) -> Artifact | None:
    """A file the build context put here, moved by a RUN: a binary built elsewhere when a
    crate of the repository makes one of that name (subjects.py decides), named for a
    target when a directory of its path is."""
    if "*" in path or repo_path(facts, path) is None:
        return None
    triple = triple_named_in(path)
    why = f"`{path}` comes from the build context (moved on line {line}): built outside this file"
    return Artifact(posixpath.basename(path), triple, None, line, unknown_why=why)


def _link(facts: StageFacts, line: int, src: str, link: str, symbolic: bool) -> None:
    """`ln -s LIB LINK`: the link is a file (a library path check reads it), and a link to
    an artifact runs that artifact. A symlink's relative target is read from its directory."""
    _put_file(facts, link, line)
    base = posixpath.dirname(link) if symbolic else facts.workdir
    src_abs = _abs(base, src)
    _name_file(facts, src_abs, line, "`ln`")
    if _is_dir_source(facts, src, src_abs):  # `ln -s target/<triple>/release target/final`
        facts.linked_dirs[link] = (facts, src_abs)
        return
    art = _artifact_at(facts, src_abs)
    if art is not None:
        _put(facts, link, art)


def _find(facts: StageFacts, line: int, args: list[str]) -> None:
    r"""`find target -name app -exec cp {} /out \;`: the named binary, wherever cargo put it."""
    if "-exec" not in args:
        return
    roots = args[: next((i for i, a in enumerate(args) if a.startswith("-")), len(args))]
    pattern = args[args.index("-name") + 1] if "-name" in args[:-1] else "*"
    command = [a for a in args[args.index("-exec") + 1 :] if a not in (";", "+", "\\;")]
    tool = posixpath.basename(command[0]) if command else ""
    if tool not in ("cp", "mv", "install") or "{}" not in command:
        return
    operands, opts = _operands(command[1:], _MOVE_OPTIONS[tool])
    dest = opts.get("-t", opts.get("--target-directory"))
    if dest is None and operands[-1:] != ["{}"]:
        dest = operands[-1] if operands else None
    if dest is None:
        return
    dest_abs = _abs(facts.workdir, dest)
    name = "*" if _GLOB.search(pattern) else pattern
    art = None
    for root in roots or ["."]:
        art = _producer(facts, _abs(facts.workdir, root), name, anywhere=True)
        if art is not None:
            break
    if art is None:
        return
    into = name == "*" or dest.endswith("/") or _is_dir(facts, dest_abs) or "-t" in opts
    _put(facts, posixpath.join(dest_abs, name) if into else dest_abs, art)


# Build drivers whose commands are not read here: what they build is not known.
_DRIVERS = frozenset({"make", "gmake", "just", "makers", "task", "mage", "earthly", "bazel"})
_SCRIPT_NAME = lazy_re(r"(?:^|[-_./])(?:build|compile|release|dist|cargo)[-_.\w]*$")
_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh"})


def _build_script(argv: list[str]) -> str | None:
    """`make build`, `just release`, `cargo xtask dist`, `./build.sh`: the build they run is
    out of sight, so a binary they leave in target/ has unknown build facts."""
    tool = posixpath.basename(argv[0])
    if tool in _DRIVERS or (tool == "cargo" and argv[1:2] in (["make"], ["xtask"])):
        return _shown(argv)
    via_shell = tool in _SHELLS and len(argv) > 1 and argv[1] != "-c"
    script = argv[1] if via_shell else argv[0]
    if ("/" in script or script.endswith(".sh")) and _SCRIPT_NAME.search(
        posixpath.basename(script)
    ):
        return _shown(argv)
    return None


def _shown(argv: list[str]) -> str:
    text = " ".join(argv[:8])
    return text if len(text) <= 60 else text[:57] + "..."


_GLOB = lazy_re(r"[*?\[]")
# What cargo leaves in target/ besides binaries: libraries, debug info, dep-info, and
# the directories of intermediate artifacts.
_NOT_BINARY = lazy_re(r"\.(?:so(?:\.\d+)*|dylib|dll|lib|a|rlib|rmeta|d|dwp|pdb|dSYM|debug|o|exp)$")
_INTERMEDIATE_DIRS = frozenset({"deps", "build", "incremental", ".fingerprint"})
# Directories every distribution image has; BuildKit copies a file *into* one.
_BIN_DIRS = frozenset(
    {"/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"}
)
_BASE_DIRS = _BIN_DIRS | {
    "/usr", "/usr/local", "/usr/lib", "/usr/local/lib", "/usr/share", "/lib", "/etc",
    "/opt", "/tmp", "/var", "/root", "/home", "/srv",
}  # fmt: skip
_MAX_DEPTH = 64  # directories above a path that are noted as existing
_MAX_BUILDS = 32  # the latest builds of a stage a binary is matched against
_MAX_SCAN = 512  # artifacts looked at for one directory copy
_MAX_LINK_DEPTH = 4  # stages copying directories of stages copying directories...


def is_binary_name(name: str) -> bool:
    return bool(name) and name not in _INTERMEDIATE_DIRS and not _NOT_BINARY.search(name)


def _is_dir(stage: StageFacts, path: str) -> bool:
    if path == "/" or path in stage.dirs or path == stage.workdir:
        return True  # stage.dirs also holds the parent of every file and artifact (_put)
    if path in stage.artifacts or path in stage.files:
        return False
    if path in _BASE_DIRS and not stage.image.ref.startswith("scratch"):
        return True
    return any(b.workdir == path for b in stage.builds[-_MAX_BUILDS:])


_HOLDS_ARTIFACT = -1  # the mark in StageFacts.dirs of a directory an artifact is under


def _put(stage: StageFacts, path: str, art: Artifact) -> None:
    stage.artifacts[path] = art
    _parents(stage, path, _HOLDS_ARTIFACT)


def _put_file(stage: StageFacts, path: str, line: int) -> None:
    stage.files[path] = line
    _parents(stage, path, 0)


def _parents(stage: StageFacts, path: str, mark: int) -> None:
    """A file's directories exist: a later `cp x /that/dir` goes into it. Those above an
    artifact are marked, so a directory copy looks for artifacts only where there are some."""
    parent = posixpath.dirname(path)
    for _ in range(_MAX_DEPTH):
        if parent in ("/", "") or stage.dirs.get(parent, 1) in (mark, _HOLDS_ARTIFACT):
            return
        stage.dirs[parent] = mark
        parent = posixpath.dirname(parent)


def _is_dir_source(stage: StageFacts, raw: str, path: str) -> bool:
    """A source copied as a whole directory: a trailing `/`, a directory the stage made or
    holds files in, or a cargo output directory (`target/<triple>/release`)."""
    if raw.endswith("/") or raw.endswith("/.") or _is_profile_dir(stage, path):
        return True
    return path not in stage.artifacts and _is_dir(stage, path)


def _is_profile_dir(stage: StageFacts, path: str) -> bool:
    """`target/[<triple>/]release`, or a build's own profile directory under its target dir."""
    name, inside = posixpath.basename(path), path + "/x"
    default = _default_place(inside, False)
    if name in ("release", "debug") and default is not None:
        return True
    return any(
        _place(b, inside, False, default) is not None
        and (name in ("release", "debug", _PROFILE_DIRS.get(b.cargo.profile, b.cargo.profile)))
        for b in stage.builds[-_MAX_BUILDS:]
        if b.cargo.produces_binaries
    )


def _copy_tree(dest: StageFacts, src: StageFacts, src_dir: str, dest_dir: str, line: int) -> None:
    """A directory copied whole: each artifact under it lands at the same place under
    ``dest_dir``; a cargo output directory brings every binary its build made."""
    dest.dirs.setdefault(dest_dir, line)
    prefix = src_dir.rstrip("/") + "/"
    held = src.dirs.get(src_dir) == _HOLDS_ARTIFACT or src_dir == "/"
    for path, art in list(itertools.islice(src.artifacts.items(), _MAX_SCAN if held else 0)):
        if path.startswith(prefix):
            _put(dest, posixpath.join(dest_dir, path[len(prefix) :]), art)
    made = _producer(src, posixpath.join(src_dir, "*"), "*")
    if made is not None:
        _put(dest, posixpath.join(dest_dir, "*"), replace(made, line=line))
    if src is not dest or src_dir != dest_dir:
        dest.linked_dirs[dest_dir] = (src, src_dir)


def _copy(facts: StageFacts, ins: Instruction, stages: list[StageFacts], context: str) -> None:
    args = ins.exec_form() or facts.doc.words(ins)
    if ins.heredocs or len(args) < 2:
        return
    *sources, dest = [facts.doc.word(a, facts.env, ins.start_line) for a in args]
    dest_abs = _abs(facts.workdir, dest)
    into_dir = dest.endswith("/") or len(sources) > 1
    origin = ins.flags.get("from")
    src_stage = stage_by_ref(stages, origin) if origin else None
    if into_dir:
        facts.dirs.setdefault(dest_abs, ins.start_line)
    for src in sources:
        if origin is not None:
            _copy_from_stage(facts, ins, src_stage, src, dest_abs, into_dir)
            continue
        # A context file copied to an existing bin directory lands in it; elsewhere a
        # source may be a directory (its contents are copied), which this does not see.
        into = into_dir or (dest_abs in _BIN_DIRS and _is_dir(facts, dest_abs))
        target = posixpath.join(dest_abs, posixpath.basename(src.rstrip("/"))) if into else dest_abs
        _put_file(facts, target, ins.start_line)
        _copy_from_context(facts, ins, src, target, dest_abs, context)


def repo_path(facts: StageFacts, path: str) -> str | None:
    """The repository path the build context put at container `path`, if any."""
    best = None
    for cdir, rdir in facts.context_map.items():
        inside = path == cdir or path.startswith(cdir.rstrip("/") + "/")
        if inside and (best is None or len(cdir) > len(best[0])):
            best = (cdir, rdir)
    if best is None:
        return None
    rest = path[len(best[0]) :].strip("/")
    joined = posixpath.normpath(posixpath.join(best[1], rest)) if rest else best[1]
    return "" if joined == "." else joined


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
        if "$" not in src:  # `COPY ${BIN} ./`: the folder of an unknown source is unknown too
            facts.context_map.setdefault(dest_abs, posixpath.dirname(repo))
    name = posixpath.basename(src)
    copies = facts.unnamed_copies.setdefault(dest_abs, []) if "$" in name else []
    if "$" in name and len(copies) < _MAX_UNNAMED:  # what it is called, a later RUN may say
        copies.append((ins.start_line, src))
    if _TARGET_PATH.search(src) and _is_binary_path(src):  # a prebuilt binary from the context
        _put(facts, target, Artifact(name, triple_from_target_path(src), None, ins.start_line))


def _copy_from_stage(
    facts: StageFacts,
    ins: Instruction,
    src_stage: StageFacts | None,
    src: str,
    dest_abs: str,
    into_dir: bool,
) -> None:
    """BuildKit's placement: a directory's contents go to the destination; a file goes
    into it when it is a directory (a trailing `/`, several sources, or one that exists)."""
    line = ins.start_line
    src_abs = _abs(src_stage.workdir if src_stage else "/", src)
    name = posixpath.basename(src_abs)
    whole = src_stage is not None and not _GLOB.search(name)
    if whole and src_stage is not None and _is_dir_source(src_stage, src, src_abs):
        _put_file(facts, dest_abs, line)
        _copy_tree(facts, src_stage, src_abs, dest_abs, line)
        return
    into = into_dir or _is_dir(facts, dest_abs)
    target = posixpath.join(dest_abs, name) if into else dest_abs
    _put_file(facts, target, line)
    if src_stage is not None and _GLOB.search(name):
        _copy_matches(facts, src_stage, src_abs, dest_abs, line)
        target = posixpath.join(dest_abs, "*")
    art = _artifact_at(src_stage, src_abs) if src_stage else None
    if (
        art is None
        and src_stage is None
        and _TARGET_PATH.search(src_abs)
        and _is_binary_path(src_abs)
    ):
        # an image or a stage not seen here: the path is all there is
        art = Artifact("*" if "*" in name else name, triple_from_target_path(src_abs), None, line)
    if art is None and src_stage is not None and src_stage.scripts and is_binary_name(name):
        art = _driver_output(src_stage, name)
    if art is not None:
        _put(facts, target, replace(art, line=line))
    elif src_stage is not None and src_stage.unpacked is not None and not src_stage.builds:
        # (a stage that also runs cargo unpacked a tool, say sccache's release, not its output)
        _mark_prebuilt(facts, src_stage, dest_abs if _GLOB.search(name) else target, line)
    if src_stage is not None:
        facts.packages.update({p: line for p in _packages_for_file(src_stage, src_abs)})


def _mark_prebuilt(facts: StageFacts, src: StageFacts, dest: str, line: int) -> None:
    """What this copy brings out of a stage that unpacked a release archive (a file, or a
    glob's destination directory) was built for the archive's triple."""
    assert src.unpacked is not None
    at, archive, triple, assumed = src.unpacked
    why = f"it comes from `{archive}` (unpacked on line {at}), a release archive for {triple}"
    if assumed:
        why += " (the name leaves the arch to the build platform: linux/amd64 assumed)"
    facts.prebuilt[dest] = (line, triple, why, posixpath.basename(archive))


def _driver_output(stage: StageFacts, name: str) -> Artifact:
    """A file a stage that ran `make install` holds: maybe a binary of this repository
    (subjects.py keeps it only if a crate has a bin of that name), built out of sight."""
    line, script = next((d for d in reversed(stage.scripts) if "build" in d[1]), stage.scripts[-1])
    why = f"`{script}` (line {line}) runs a build whose commands are not read here"
    return Artifact(name, None, None, line, unknown_why=why)


def _copy_matches(
    facts: StageFacts, src_stage: StageFacts, pattern: str, dest_abs: str, line: int
) -> None:
    """`COPY --from=b /out/* /usr/local/bin/`: each artifact the pattern names."""
    folder = posixpath.dirname(pattern)
    for path, art in list(itertools.islice(src_stage.artifacts.items(), _MAX_SCAN)):
        if posixpath.dirname(path) == folder and fnmatch.fnmatchcase(
            posixpath.basename(path), posixpath.basename(pattern)
        ):
            _put(facts, posixpath.join(dest_abs, posixpath.basename(path)), replace(art, line=line))


def _packages_for_file(stage: StageFacts, path: str) -> list[str]:
    # A library copied out of a stage that installed it: remember the package so the
    # path check can tell a right path from a wrong one.
    return (
        [p for p in stage.packages if path.rsplit("/", 1)[-1].startswith("lib")]
        if "/lib" in path
        else []
    )


def _artifact_at(stage: StageFacts, path: str, depth: int = 0) -> Artifact | None:
    if path in stage.artifacts:
        return stage.artifacts[path]
    if stage.linked_dirs and depth < _MAX_LINK_DEPTH:
        found = _through_link(stage, path, depth)
        if found is not None:
            return found
    name = posixpath.basename(path)
    if not is_binary_name(name):
        return None
    every = stage.artifacts.get(posixpath.join(posixpath.dirname(path), "*"))
    if every is not None:  # `cp -r target/release /dist`: each binary of the build is there
        return replace(every, name=name)
    return _producer(stage, path, "*" if _GLOB.search(name) else name)


def _through_link(stage: StageFacts, path: str, depth: int) -> Artifact | None:
    """The artifact at ``path`` in a directory copied whole from a stage (or linked)."""
    folder = path
    for _ in range(_MAX_DEPTH):
        if folder in ("/", ""):
            return None
        folder = posixpath.dirname(folder)
        link = stage.linked_dirs.get(folder)
        if link is not None:
            src_stage, src_dir = link
            rel = path[len(folder.rstrip("/")) + 1 :]
            return _artifact_at(src_stage, posixpath.join(src_dir, rel), depth + 1)
    return None


def _is_binary_path(path: str) -> bool:
    """Not a library or debug file, and not in deps/, build/... of a target directory
    (a workdir named /build is no intermediate directory)."""
    parts = path.rstrip("/").split("/")
    at = max((i for i, p in enumerate(parts) if p == "target"), default=-1)
    inside = parts[at + 1 : -1] if at >= 0 else parts[-4:-1]
    return is_binary_name(parts[-1]) and not _INTERMEDIATE_DIRS.intersection(inside)


@record(frozen=True)
class _Place:
    """Where in a target directory a path is: `<dir>/[<triple>/]<profile>/<name>`."""

    triple: str | None  # None: no triple directory; "?": one named by a variable
    profile: str
    custom: bool  # under the build's --target-dir / CARGO_TARGET_DIR


def _place(b: Build, path: str, anywhere: bool, default: _Place | None) -> _Place | None:
    """Where ``path`` is in the build's target directory; ``default``: where it is in a
    plain `target/` (the same for every build, so worked out once by the caller)."""
    where = b.cargo.target_dir or b.env.get("CARGO_TARGET_DIR")
    if not where:
        # `cargo install NAME` builds in a temporary directory, not in target/
        return None if b.cargo.installs_elsewhere else default
    base = _abs(build_dir(b), where).rstrip("/") + "/"
    if not (path + "/").startswith(base):
        return None
    if anywhere:  # `find /out -name app`: any layout under the directory
        return _Place("?", "?", True)
    return _layout(path[len(base) :].split("/"), True)


def _default_place(path: str, anywhere: bool) -> _Place | None:
    parts = path.split("/")
    at = max((i for i, p in enumerate(parts) if p == "target"), default=-1)
    if at < 0:
        return None
    return _Place("?", "?", False) if anywhere else _layout(parts[at + 1 :], False)


def _layout(rest: list[str], custom: bool) -> _Place | None:
    """`[<triple>/]<profile>/<name>` below a target directory."""
    if len(rest) == 3 and ("$" in rest[0] or triple_from_target_path("/".join(rest))):
        return _Place("?" if "$" in rest[0] else normalize_triple(rest[0]), rest[1], custom)
    if triple_from_target_path(rest[0] + "/x"):
        return None  # `target/<triple>` itself, not a profile directory
    if len(rest) == 2 or (len(rest) == 3 and rest[1] == "examples"):
        return _Place(None, rest[0], custom)
    return None


def _producer(stage: StageFacts, path: str, name: str, anywhere: bool = False) -> Artifact | None:
    """The build of the stage that made the binary at ``path`` (a target directory path):
    the one whose target dir, triple, profile and `--bin` fit best, the latest on a tie;
    unknown when a build driver (`make`, a build script) ran after it."""
    if not (anywhere or _is_binary_path(path)):
        return None
    scored = []
    default = _default_place(path, anywhere)
    for b in stage.builds[-_MAX_BUILDS:]:
        place = _place(b, path, anywhere, default) if b.cargo.produces_binaries else None
        score = _fit(b, place, name) if place is not None else None
        if score is not None:
            scored.append((score, b.line, b))
    scored.sort(key=lambda t: (t[0], t[1]), reverse=True)
    best = scored[0][2] if scored else None
    triple = None if anywhere else triple_from_target_path(path)
    later = [s for s in stage.scripts if best is None or s[0] > best.line]
    in_target = default is not None
    if later and (best is None or name not in best.cargo.bins) and in_target:
        # the last driver that says it builds (`make build`, not `make install-docs`), else the first
        line, script = next((d for d in reversed(later) if "build" in d[1]), later[0])
        why = f"`{script}` (line {line}) runs a build whose commands are not read here"
        return Artifact(name, triple, None, line, unknown_why=why)
    if best is None:
        return None
    chef = _placeholder(stage, best, path, anywhere, default)
    if chef is not None:
        why = (
            f"only `cargo chef cook` (line {chef.line}) builds that profile: `{path}` is its "
            "placeholder for the crate's binary, not the binary"
        )
        # built by the cook (its target, so its libc and linkage), from none of the crate's code
        return Artifact(name, triple, chef, chef.line, unknown_why=why, placeholder=True)
    return Artifact(name, triple, best, best.line, others=tuple(t[2] for t in scored[1:]))


def _placeholder(
    stage: StageFacts, best: Build, path: str, anywhere: bool, default: _Place | None
) -> Build | None:
    """A `cargo chef cook --release` whose profile fits the path when the best real build's
    does not (a debug `cargo build` after it): cargo-chef compiled its skeleton there."""

    def fits(b: Build) -> bool:
        place = _place(b, path, anywhere, default)
        profile = _PROFILE_DIRS.get(b.cargo.profile, b.cargo.profile)
        return place is not None and "$" not in profile and place.profile == profile

    if fits(best):
        return None
    cooks = [b for b in stage.builds if b.cargo.subcommand == "chef-cook" and fits(b)]
    return cooks[-1] if cooks else None


_PROFILE_DIRS = {"dev": "debug", "test": "debug", "bench": "release"}


def _fit(b: Build, place: _Place, name: str) -> int | None:
    """How well a build explains a binary at ``place``; None when it cannot have made it."""
    if b.cargo.bins and name != "*" and name not in b.cargo.bins:
        return None  # `--bin a` builds only a
    score = (8 if name in b.cargo.bins else 0) + (2 if place.custom else 0)
    wanted = declared_targets(b)
    concrete = [t for t in wanted if "$" not in t]
    if place.triple is None:  # cargo writes under <triple>/ whenever a target is given
        score += -4 if concrete else 1
    elif place.triple != "?":
        score += 4 if place.triple in concrete else (-4 if concrete else 0)
    profile = _PROFILE_DIRS.get(b.cargo.profile, b.cargo.profile)
    if "$" not in profile and place.profile not in ("?",) and "$" not in place.profile:
        score += 2 if profile == place.profile else -3
    return score


def declared_targets(b: Build) -> list[str]:
    """The triples a build names itself (normalized), before .cargo/config and the host."""
    if b.cargo.targets:
        return [t if "$" in t else normalize_triple(t) for t in b.cargo.targets]
    if b.cargo.tool == "xx-cargo":
        triple = xx_triple(b)[0]
        return [triple] if triple else ["$XX"]
    named = b.cargo.config_target or b.env.get("CARGO_BUILD_TARGET")
    if named:
        return [named if "$" in named else normalize_triple(named)]
    return []


def xx_triple(b: Build) -> tuple[str | None, str]:
    """tonistiigi/xx's `xx-cargo` builds for TARGETPLATFORM with the base image's libc:
    `<arch>-unknown-linux-gnu` on Debian/Ubuntu, `-musl` on Alpine (`-alpine-` with
    Alpine's own rust package)."""
    platform = b.env.get("TARGETPLATFORM")
    arch = arch_from_platform(platform)
    where = f"TARGETPLATFORM {platform}" if platform and "$" not in platform else "linux/amd64"
    if b.image.libc not in (GLIBC, MUSL):
        why = f"`xx-cargo` on line {b.line} builds for the libc of `{b.image.ref}`, which is not known"
        return None, why
    env = "gnu" if b.image.libc == GLIBC else "musl"
    host = b.toolchain.host if b.toolchain is not None else None
    vendor = "alpine" if env == "musl" and host and "-alpine-" in host else "unknown"
    why = f"`xx-cargo` on line {b.line}: {where} on a {b.image.libc} image"
    return triple_for(arch, env, vendor), why


def _entrypoint(
    facts: StageFacts, ins: Instruction, stages: list[StageFacts], context: str
) -> None:
    if ins.keyword == "ENTRYPOINT":
        facts.entrypoint = ins
    else:
        facts.cmd = ins


def stage_by_ref(stages: list[StageFacts], ref: str) -> StageFacts | None:
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
    if b.variants:
        why = f"{why}; {b.variants}"
    if triple is not None and triple.startswith("$(one of "):  # branches that differ in libc
        return None, f"the target is {triple[2:-1]}, whose libcs differ ({why})"
    if triple is not None and ("$(" in triple or "`" in triple):
        return None, f"the target is `{triple}`, computed when the RUN runs ({why})"
    if triple is not None and "$" in triple and _DIFFER in b.variants:
        return None, f"the target is `{triple}`, which the platform decides ({why})"
    if triple is not None and "$" in triple:  # as written: `${RUST_TARGET}` keeps its case
        return None, f"the target is `{triple}`, a variable with no value here ({why})"
    return (normalize_triple(triple) if triple is not None else None), why


def _build_target(b: Build, config_target: str | None) -> tuple[str | None, str]:
    """Cargo's precedence: --target, --config, CARGO_BUILD_TARGET, .cargo/config, the host."""
    if b.cargo.targets:
        return b.cargo.targets[0], f"`--target {b.cargo.targets[0]}` on line {b.line}"
    if b.cargo.tool == "xx-cargo":  # xx-cargo passes --target itself
        return xx_triple(b)
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
