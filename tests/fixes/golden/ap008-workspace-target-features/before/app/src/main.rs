#[cfg(all(not(target_env = "msvc"), feature = "jemallocator"))]
#[global_allocator]
static GLOBAL: ::jemallocator::Jemalloc = ::jemallocator::Jemalloc;

fn main() {}
