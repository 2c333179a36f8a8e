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
# mimalloc exports malloc/free with this feature, so System -> malloc -> mimalloc.
OVERRIDE_FEATURE = {"mimalloc": "override"}

# Rust-side type paths that mean "the system allocator".
SYSTEM_PATHS = frozenset({"std::alloc::System", "alloc::System", "System"})


def family(package: str) -> str | None:
    return ALLOCATOR_CRATES.get(package)


def activates_itself(package: str, features: tuple[str, ...] | list[str]) -> bool:
    if package in SELF_INSTALLING:
        return True
    feature = OVERRIDE_FEATURE.get(package)
    return feature is not None and feature in features
