"""allocpolicy: keep Rust container images on the right memory allocator."""

__version__ = "0.1.0"
