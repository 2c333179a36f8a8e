#[cfg(feature = "jemallocator")]
use tikv_jemallocator::Jemalloc;

#[cfg(feature = "jemallocator")]
#[global_allocator]
static GLOBAL: Jemalloc = Jemalloc;

fn main() {
    #[cfg(feature = "jemalloc-ctl")]
    tikv_jemalloc_ctl::epoch::advance().unwrap();
}
