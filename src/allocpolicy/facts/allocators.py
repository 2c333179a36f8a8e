"""Which crates are allocators, and of which family."""

from __future__ import annotations

# crates.io package -> allocator family. Sources: allocator-facts-research.md §3.5 and §4.
ALLOCATOR_CRATES: dict[str, str] = {
    "mimalloc": "mimalloc",
    "mimalloc-rust": "mimalloc",
    "mimalloc2-rust": "mimalloc",
    "mimalloc-rs": "mimalloc",
    "mirmalloc": "mimalloc",
    "rustfs-mimalloc": "mimalloc",
    "bc-mimalloc": "mimalloc",
    "tikv-jemallocator": "jemalloc",
    "jemallocator": "jemalloc",
    "tikv-jemallocator-global": "jemalloc",
    "jemallocator-global": "jemalloc",
    "tcmalloc": "tcmalloc",
    "tcmalloc2": "tcmalloc",
    "tcmalloc-better": "tcmalloc",
    "snmalloc-rs": "other",
    "rpmalloc": "other",
}

# Crates that become the global allocator by being linked, without a static.
SELF_INSTALLING = frozenset({"tikv-jemallocator-global", "jemallocator-global"})
# With this feature the crate exports malloc/free itself, so System -> malloc -> it:
# mimalloc's `override`, and jemalloc's unprefixed symbols (which the -sys crate builds;
# the allocator crates forward the feature to it).
UNPREFIXED = "unprefixed_malloc_on_supported_platforms"
OVERRIDE_FEATURE = {
    "mimalloc": "override",
    "tikv-jemallocator": UNPREFIXED,
    "jemallocator": UNPREFIXED,
    "tikv-jemalloc-sys": UNPREFIXED,
    "jemalloc-sys": UNPREFIXED,
}
# The jemalloc crates and the -sys package each builds: cargo unifies the features of
# one package across a build, so a feature any crate of the graph enables (a
# workspace-hack crate, say) is on for all of them.
JEMALLOC_SYS = {
    "tikv-jemallocator": "tikv-jemalloc-sys",
    "tikv-jemalloc-sys": "tikv-jemalloc-sys",
    "tikv-jemalloc-ctl": "tikv-jemalloc-sys",
    "tikv-jemallocator-global": "tikv-jemalloc-sys",
    "jemallocator": "jemalloc-sys",
    "jemalloc-sys": "jemalloc-sys",
    "jemalloc-ctl": "jemalloc-sys",
    "jemallocator-global": "jemalloc-sys",
}
# Crates whose code calls into a jemalloc -sys package, so that linking them links it.
JEMALLOC_USERS = {**JEMALLOC_SYS, "jemalloc_pprof": "tikv-jemalloc-sys"}

# Rust-side type paths that mean "the system allocator".
SYSTEM_PATHS = frozenset({"std::alloc::System", "alloc::System", "System"})


def family(package: str) -> str | None:
    return ALLOCATOR_CRATES.get(package)


def activates_itself(package: str, features: tuple[str, ...] | list[str]) -> bool:
    if package in SELF_INSTALLING:
        return True
    feature = OVERRIDE_FEATURE.get(package)
    return feature is not None and feature in features


def activating_family(package: str) -> str | None:
    """The family of a crate that can install itself (a -sys crate has none of its own)."""
    return family(package) or ("jemalloc" if package in JEMALLOC_SYS else None)


def unprefixed_sys(package: str, features: tuple[str, ...] | list[str]) -> str | None:
    """The jemalloc -sys package this dependency builds with unprefixed symbols, if it does."""
    return JEMALLOC_SYS.get(package) if UNPREFIXED in features else None
