//! Docs.

#[cfg(target_os = "linux")] // linux only
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {}
