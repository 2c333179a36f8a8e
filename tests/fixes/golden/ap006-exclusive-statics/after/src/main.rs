//! One allocator per build: profiled when asked, plain otherwise.

#[cfg(feature = "jemalloc-profiled")]
#[global_allocator]
static PROFILED: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[cfg(all(feature = "jemalloc", not(feature = "jemalloc-profiled")))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {}
