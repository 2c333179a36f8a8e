"""The documented facts a policy condition can test, by subject.

Each subject is a kind of thing the engine finds in a repository; each fact is
computed in code (`allocpolicy.facts.*`) and tested by rules in policy files.
This table is the contract between the two: the policy loader rejects a
condition that names a fact its subject does not have.
"""

from __future__ import annotations

ALLOCATORS = "mimalloc | jemalloc | tcmalloc | other | system | unknown"

SUBJECTS: dict[str, dict[str, str]] = {
    "binary": {
        "image": "path of the Containerfile that ships the binary",
        "stage": "name (or index) of the final stage",
        "base": "base image of the final stage, ARGs substituted",
        "runtime_libc": "libc of the final stage's image: glibc | musl | static | unknown",
        "binary": "binary name",
        "crate": "package that builds it, or null when it cannot be mapped to the workspace",
        "target": "Rust target triple of the build, or null",
        "libc": "libc the binary is built for: glibc | musl | unknown",
        "linkage": "static | dynamic | unknown",
        "allocator": f"allocator in effect, LD_PRELOAD included: {ALLOCATORS}",
        "linked_allocator": f"allocator linked into the binary: {ALLOCATORS}",
        "allocator_source": "global_allocator | dependency-feature | builder-image | ld_preload | none | unknown",
        "ld_preload_allocator": "allocator named by LD_PRELOAD in the final stage, or null",
        "profile": "the crate's declared profile (or the configured default)",
        "recommended": "allocators the decision tree recommends for the profile",
        "features": "cargo features enabled for the build",
        "recommended_text": "display form of recommended",
        "location": "where the finding is reported: the line that makes the build musl, "
        "or the final FROM",
    },
    "dependency": {
        "manifest": "path of the Cargo.toml",
        "crate": "the dependency's crates.io package name",
        "key": "its key in the table (differs from crate when renamed)",
        "allocator": f"allocator family of the crate ({ALLOCATORS}), null for non-allocator crates",
        "version": "version requirement as written",
        "locked_version": "version in Cargo.lock, or null",
        "default_features": "whether default features are on (true when not written)",
        "default_features_written": "whether default-features is written at all",
        "optional": "optional = true",
        "target": "the [target.<key>] it is declared under, or null",
        "workspace": "workspace = true",
        "binary_crate": "whether the declaring crate has a binary target",
        "wired": "whether a #[global_allocator] static uses it",
        "activates_itself": "whether the crate installs itself as allocator without a static "
        "(mimalloc's override feature, *-jemallocator-global)",
        "features": "features enabled on it",
        "locked_text": "display form of locked_version",
        "location": "the dependency's line",
    },
    "global_allocator": {
        "file": "the Rust source file",
        "crate": "package the file belongs to",
        "allocator_crate": "Rust crate of the static's type (first path segment)",
        "allocator": f"allocator family ({ALLOCATORS})",
        "in_library": "whether the static is compiled into a library target",
        "cfg": "the cfg gating the static, or null",
        "dependency_cfg": "the cfg under which its dependency is present, or null",
        "cfg_mismatch": "whether some build has the static without the dependency or the "
        "dependency without the static",
        "mismatch": "a sentence naming the build where they disagree",
        "cfg_text": "display form of cfg",
        "dependency_cfg_text": "display form of dependency_cfg",
        "location": "the #[global_allocator] attribute",
    },
    "crate": {
        "manifest": "path of the Cargo.toml",
        "crate": "package name",
        "binary_crate": "whether it has a binary target",
        "profile": "declared profile, or the configured default",
        "profile_declared": "whether [package.metadata.allocpolicy] profile is written",
        "allocator": f"allocator wired by a #[global_allocator] ({ALLOCATORS})",
        "recommended": "allocators the decision tree recommends for the profile",
        "recommended_text": "display form of recommended",
        "location": "the profile line, or [package]",
    },
    "ld_preload": {
        "image": "path of the Containerfile",
        "stage": "final stage name or index",
        "path": "the library LD_PRELOAD names",
        "via": "ENV | ENTRYPOINT | CMD",
        "library_allocator": "allocator the library is (mimalloc | jemalloc | tcmalloc | null)",
        "runtime_libc": "libc of the stage's image: glibc | musl | static | unknown",
        "binary_linkage": "linkage of the Rust binaries the image ships: static | dynamic | unknown",
        "library_status": "provided | missing | wrong-path | unknown",
        "expected_path": "where the stage's distro installs that allocator, or null",
        "expected_package": "the package that installs it, or null",
        "distro": "the stage's distribution, or null",
        "reason": "why LD_PRELOAD cannot work here (display)",
        "status_text": "what is wrong with the library path (display)",
        "location": "the instruction that sets LD_PRELOAD",
    },
    "parse_error": {
        "file": "the file",
        "message": "what went wrong",
        "location": "the line that could not be parsed",
    },
    "unknown_image": {
        "image": "path of the Containerfile",
        "base": "the image reference",
        "location": "the FROM line",
    },
    "suppression": {
        "file": "the file",
        "rules": "rule ids of a suppression comment that suppressed nothing",
        "rules_text": "display form of rules",
        "location": "the comment",
    },
}

PROFILE_ALLOCATORS: dict[str, tuple[str, ...]] = {
    "default": ("mimalloc",),
    "simple": ("system", "mimalloc", "jemalloc", "tcmalloc", "other"),
    "long-running": ("jemalloc",),
    "large-buffers": ("jemalloc", "tcmalloc"),
}
