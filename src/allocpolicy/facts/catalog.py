"""The subjects rules test, as typed records: their documented fields are the facts.

Each subject is a kind of thing the engine finds in a repository; each fact is
computed in code (`allocpolicy.facts.*`) and tested by rules in policy files.
These records are the contract between the two: a field with a `doc` is a fact a
condition or message may name (the policy loader rejects any other), and
docs/facts.md is generated from those docs. Fields without a doc carry the
parsed objects a fix action needs; conditions cannot see them.
"""

from __future__ import annotations

from allocpolicy._record import docs, fact, field, record

TYPE_CHECKING = False  # typing is not imported at run time: start-up cost
if TYPE_CHECKING:
    from typing import Any

    from allocpolicy.facts.containers import Containerfile, Preload
    from allocpolicy.facts.subjects import ShippedBinary
    from allocpolicy.facts.workspace import AllocatorStatic, Crate
    from allocpolicy.model import Location
    from allocpolicy.parsing.cargo import Dependency
    from allocpolicy.parsing.suppressions import Suppression

ALLOCATORS = "mimalloc | jemalloc | tcmalloc | other | system | unknown"

PROFILE_ALLOCATORS: dict[str, tuple[str, ...]] = {
    "default": ("mimalloc",),
    "simple": ("system", "mimalloc", "jemalloc", "tcmalloc", "other"),
    "long-running": ("jemalloc",),
    "large-buffers": ("jemalloc", "tcmalloc"),
}


class Subject:
    """Common shape of every subject record: its kind, and where findings about it go."""

    KIND = ""
    location: Location
    # Extra lines a suppression comment may sit above (a binary's FROM lines).
    suppression_anchors: tuple[int, ...] = ()

    def fact(self, name: str) -> Any:
        """The value of a documented fact; None for a name the subject does not have."""
        # read on every condition of every subject: the record's own table, not a copy
        documented: dict[str, str] = getattr(type(self), "__record_docs__", {})
        return getattr(self, name) if name in documented else None


@record
class BinarySubject(Subject):
    """A Rust binary an image ships."""

    KIND = "binary"
    image: str = fact("path of the Containerfile that ships the binary")
    stage: str = fact("name (or index) of the final stage")
    base: str = fact("base image of the final stage, ARGs substituted")
    runtime_libc: str = fact("libc of the final stage's image: glibc | musl | static | unknown")
    binary: str = fact("binary name")
    crate: str | None = fact(
        "package that builds it, or null when it cannot be mapped to the workspace"
    )
    target: str | None = fact("Rust target triple of the build, or null")
    target_text: str = fact(
        'display form of target ("an unknown target" when null; "a target set outside this file"'
        " when the binary comes from no build in the file)"
    )
    libc: str = fact("libc the binary is built for: glibc | musl | unknown")
    linkage: str = fact("static | dynamic | unknown")
    allocator: str = fact(f"allocator in effect, LD_PRELOAD included: {ALLOCATORS}")
    linked_allocator: str = fact(f"allocator linked into the binary: {ALLOCATORS}")
    allocator_source: str = fact(
        "global_allocator | dependency-feature | builder-image | ld_preload | none | unknown"
    )
    ld_preload_allocator: str | None = fact(
        "allocator named by LD_PRELOAD in the final stage, or null"
    )
    profile: str = fact("the crate's declared profile (or the configured default)")
    recommended: list[str] = fact("allocators the decision tree recommends for the profile")
    recommended_text: str = fact("display form of recommended")
    features: list[str] = fact("cargo features enabled for the build")
    location: Location = fact(
        "where the finding is reported: the line that decides the target (`--target`, "
        "CARGO_BUILD_TARGET, the builder image's FROM, or the build stage's FROM when a RUN "
        "installed the toolchain), or the final FROM when only the runtime image proves it"
    )
    shipped: ShippedBinary = field(repr=False)
    suppression_anchors: tuple[int, ...] = field(default=(), repr=False)


@record
class DependencySubject(Subject):
    """An allocator crate (or a jemalloc helper crate) declared in a Cargo.toml."""

    KIND = "dependency"
    manifest: str = fact("path of the Cargo.toml")
    crate: str = fact("the dependency's crates.io package name")
    key: str = fact("its key in the table (differs from crate when renamed)")
    allocator: str | None = fact(
        f"allocator family of the crate ({ALLOCATORS}), null for non-allocator crates"
    )
    version: str | None = fact("version requirement as written")
    locked_version: str | None = fact("version in Cargo.lock, or null")
    default_features: bool = fact("whether default features are on (true when not written)")
    default_features_written: bool = fact("whether default-features is written at all")
    optional: bool = fact("optional = true")
    target: str | None = fact("the [target.<key>] it is declared under, or null")
    workspace: bool = fact("workspace = true")
    binary_crate: bool = fact("whether the declaring crate has a binary target")
    wired: bool | None = fact(
        "whether a #[global_allocator] static uses it (directly, wrapped, or declared by a "
        "macro call); null when a macro call this scan cannot read may declare it"
    )
    wired_reason: str | None = fact("why wired is null, else null")
    activates_itself: bool = fact(
        "whether the crate installs itself as allocator without a static "
        "(mimalloc's override feature, jemalloc's unprefixed_malloc_on_supported_platforms "
        "on it or, unified, on the -sys crate by any crate of the build, *-jemallocator-global)"
    )
    features: list[str] = fact("features enabled on it")
    locked_text: str = fact("display form of locked_version")
    location: Location = fact("the dependency's line")
    dependency: Dependency = field(repr=False)
    declaring_crate: Crate | None = field(repr=False)  # None for [workspace.dependencies]


@record
class GlobalAllocatorSubject(Subject):
    """A `#[global_allocator]` static in a Rust source file."""

    KIND = "global_allocator"
    file: str = fact("the Rust source file")
    crate: str = fact("package the file belongs to")
    allocator_crate: str = fact(
        "Rust crate that provides the allocator: the allocator crate the static's type "
        "wraps (a generic argument, its initializer, a field of a local struct), else the "
        "first path segment of its type"
    )
    allocator: str = fact(f"allocator family ({ALLOCATORS})")
    allocator_name: str = fact(
        "the family, or the static's type path when the family is other or unknown"
    )
    in_library: bool = fact(
        "whether a library target compiles the static with its default features (not a "
        "cdylib/staticlib, which is a final artifact; not a test-only static)"
    )
    cfg: str | None = fact("the cfg gating the static, its module path's gates included, or null")
    dependency_cfg: str | None = fact("the cfg under which its dependency is present, or null")
    cfg_mismatch: bool = fact(
        "whether some build has the static without the dependency or the "
        "dependency without the static"
    )
    mismatch: str | None = fact("a sentence naming the build where they disagree")
    cfg_text: str = fact("display form of cfg")
    dependency_cfg_text: str = fact("display form of dependency_cfg")
    location: Location = fact("the #[global_allocator] attribute")
    static: AllocatorStatic = field(repr=False)
    declaring_crate: Crate = field(repr=False)
    dependency: Dependency | None = field(repr=False)


@record
class CrateSubject(Subject):
    """A package of the workspace."""

    KIND = "crate"
    manifest: str = fact("path of the Cargo.toml")
    crate: str = fact("package name")
    binary_crate: bool = fact("whether it has a binary target")
    profile: str = fact("declared profile, or the configured default")
    profile_declared: bool = fact("whether [package.metadata.allocpolicy] profile is written")
    allocator: str | None = fact(f"allocator wired by a #[global_allocator] ({ALLOCATORS})")
    recommended: list[str] = fact("allocators the decision tree recommends for the profile")
    recommended_text: str = fact("display form of recommended")
    location: Location = fact("the profile line, or [package]")
    declaring_crate: Crate = field(repr=False)


@record
class LdPreloadSubject(Subject):
    """An LD_PRELOAD setting in an image's final stage."""

    KIND = "ld_preload"
    image: str = fact("path of the Containerfile")
    stage: str = fact("final stage name or index")
    path: str = fact("the library LD_PRELOAD names")
    via: str = fact("ENV | ENTRYPOINT | CMD")
    library_allocator: str | None = fact(
        "allocator the library is (mimalloc | jemalloc | tcmalloc | null)"
    )
    runtime_libc: str = fact("libc of the stage's image: glibc | musl | static | unknown")
    binary_linkage: str = fact(
        "linkage of the Rust binaries the image ships: static | dynamic | unknown"
    )
    library_status: str = fact("provided | missing | wrong-path | unknown")
    expected_path: str | None = fact("where the stage's distro installs that allocator, or null")
    expected_package: str | None = fact("the package that installs it, or null")
    distro: str | None = fact("the stage's distribution, or null")
    reason: str = fact("why LD_PRELOAD cannot work here (display)")
    status_text: str = fact("what is wrong with the library path (display)")
    location: Location = fact("the instruction that sets LD_PRELOAD")
    preload: Preload = field(repr=False)
    containerfile: Containerfile = field(repr=False)


@record
class ArtifactBinarySubject(Subject):
    """An ELF binary found in a built artifact (`allocpolicy inspect`)."""

    KIND = "artifact_binary"
    artifact: str = fact("the artifact as named on the command line (a file or a directory)")
    artifact_kind: str = fact("elf | directory | docker-archive | oci-layout")
    platform: str | None = fact("os/arch[/variant] of an image's platform, else null")
    path: str = fact("the binary's path inside the artifact (its file name for one ELF file)")
    elf_type: str = fact("executable | shared-object")
    machine: str = fact("the ELF machine: x86_64, aarch64, ...")
    linkage: str = fact(
        "static | static-pie | dynamic (PT_INTERP: dynamic; ET_EXEC without it: static; "
        "ET_DYN without it: static-pie, or dynamic for a shared object)"
    )
    libc: str = fact("musl | glibc | none | unknown, from the loader, DT_NEEDED or evidence")
    interpreter: str | None = fact("PT_INTERP, or null")
    needed: list[str] = fact("the DT_NEEDED entries")
    rust: bool | None = fact("whether it is a Rust binary; null when the evidence was not read")
    allocator: str = fact(
        "allocator linked in or loaded through DT_NEEDED: "
        "mimalloc | jemalloc | tcmalloc | snmalloc | system | unknown"
    )
    allocator_confidence: str = fact(
        "high (symbols) | medium (strings of a stripped binary) | low (conflicting or unread)"
    )
    stripped: bool = fact("whether the binary has no .symtab")
    preload_target: bool = fact(
        "whether it is a shared object that is an allocator and defines malloc (an "
        "LD_PRELOAD target)"
    )
    evidence: list[str] = fact("why: the interpreter, DT_NEEDED entries, symbols, strings")
    evidence_text: str = fact("display form of evidence")
    profile: str = fact("the configured default profile (a binary has no crate metadata)")
    recommended_text: str = fact("display form of the allocators recommended for the profile")
    entrypoint: bool = fact("whether it is the program an image's Entrypoint/Cmd runs")
    preload: str | None = fact(
        "the LD_PRELOAD value that applies to the entrypoint binary (config Env or an "
        "`env`/`sh -c` wrapper), else null"
    )
    preload_source: str | None = fact("env | entrypoint: where the LD_PRELOAD value is set")
    preload_missing: list[str] = fact("preloaded libraries not in the image after its layers")
    preload_missing_text: str = fact("display form of preload_missing")
    preload_not_allocator: list[str] = fact(
        "preloaded libraries present in the image that are not allocator preload targets"
    )
    preload_not_allocator_text: str = fact("display form of preload_not_allocator")
    location: Location = fact("the binary (line 1)")


@record
class ArtifactSourceSubject(Subject):
    """An artifact's Rust binary paired with the repository's analysis (`inspect --repo`)."""

    KIND = "artifact_source"
    path: str = fact("the binary's path inside the artifact")
    binary: str = fact("its file name, matched to the repository's binary names")
    outcome: str = fact(
        "agree | disagree | unknown (either side unknown, or the binary read with low "
        "confidence) | unmatched (no image of the repository ships a binary of that name)"
    )
    source_allocator: str = fact(f"allocator the repository links into the binary: {ALLOCATORS}")
    binary_allocator: str = fact("allocator the binary has (as artifact_binary's allocator)")
    allocator_confidence: str = fact("high | medium | low: how the binary's allocator was read")
    source_libc: str = fact("libc the repository builds the binary for: glibc | musl | unknown")
    binary_libc: str = fact("the binary's libc: musl | glibc | none | unknown")
    disagreement: str = fact("display form of what disagrees (allocator, libc), empty if nothing")
    source_evidence: str = fact("where the repository decides it: file:line and why")
    binary_evidence: str = fact("display form of the binary's evidence")
    location: Location = fact("the binary (line 1)")


@record
class ParseErrorSubject(Subject):
    """A file that could not be read or parsed."""

    KIND = "parse_error"
    file: str = fact("the file")
    message: str = fact("what went wrong")
    location: Location = fact("the line that could not be parsed")


@record
class SkippedFileSubject(Subject):
    """A file the tool's own bounds kept out (size, file type, a link out of the tree)."""

    KIND = "skipped_file"
    file: str = fact("the file")
    reason: str = fact("why it was not read (display)")
    location: Location = fact("the file (line 1)")


@record
class UnknownImageSubject(Subject):
    """A final stage whose base image is not in the image table."""

    KIND = "unknown_image"
    image: str = fact("path of the Containerfile")
    base: str = fact("the image reference")
    location: Location = fact("the FROM line")


@record
class SuppressionSubject(Subject):
    """A suppression comment that suppressed nothing."""

    KIND = "suppression"
    file: str = fact("the file")
    rules: list[str] = fact("rule ids of a suppression comment that suppressed nothing")
    rules_text: str = fact("display form of rules")
    location: Location = fact("the comment")
    suppression: Suppression = field(repr=False)


SUBJECT_TYPES: tuple[type[Subject], ...] = (
    BinarySubject,
    DependencySubject,
    GlobalAllocatorSubject,
    CrateSubject,
    LdPreloadSubject,
    ArtifactBinarySubject,
    ArtifactSourceSubject,
    ParseErrorSubject,
    SkippedFileSubject,
    UnknownImageSubject,
    SuppressionSubject,
)

# The subjects `inspect` finds in built artifacts: a rule's `artifact:` variant names one.
ARTIFACT_SUBJECT_TYPES: tuple[type[Subject], ...] = (ArtifactBinarySubject, ArtifactSourceSubject)

# kind -> fact -> its doc: what the policy loader checks conditions and messages against.
SUBJECTS: dict[str, dict[str, str]] = {t.KIND: docs(t) for t in SUBJECT_TYPES}


def facts_markdown() -> str:
    """docs/facts.md, generated from the records above (tests keep the file in step)."""
    out = [
        "# Facts a policy condition can test",
        "",
        "Generated from the subject records in `src/allocpolicy/facts/catalog.py` (the "
        "contract between the engine and policy files) by `python scripts/generate.py`; "
        "`tests/test_generated.py` fails when this page is stale.",
    ]
    for t in SUBJECT_TYPES:
        summary = (t.__doc__ or "").strip().splitlines()[0]
        out += ["", f"## `{t.KIND}`", "", summary, "", "| fact | meaning |", "|---|---|"]
        out += [f"| `{name}` | {_cell(doc)} |" for name, doc in docs(t).items()]
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # a literal bar inside a Markdown table cell
