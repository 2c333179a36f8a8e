#[cfg(feature = "jemallocator")]
use jemallocator::Jemalloc;

#[cfg(feature = "jemallocator")]
#[global_allocator]
static GLOBAL: Jemalloc = Jemalloc;

fn main() {
    #[cfg(feature = "jemalloc-ctl")]
    jemalloc_ctl::epoch::advance().unwrap();
}
