extern crate tikv_jemallocator;

use tikv_jemalloc_ctl::{epoch, stats};

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    epoch::advance().unwrap();
    let _ = stats::allocated::read();
}
