extern crate jemallocator;

use jemalloc_ctl::{epoch, stats};

#[global_allocator]
static GLOBAL: jemallocator::Jemalloc = jemallocator::Jemalloc;

fn main() {
    epoch::advance().unwrap();
    let _ = stats::allocated::read();
}
