#[cfg(all(not(target_env = "msvc"), feature = "jemallocator"))]
#[global_allocator]
static GLOBAL: ::tikv_jemallocator::Jemalloc = ::tikv_jemallocator::Jemalloc;

fn main() {}
