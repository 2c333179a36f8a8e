#[cfg(all(any(target_os = "linux", target_os = "macos"), feature = "tikv-jemallocator"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {}
