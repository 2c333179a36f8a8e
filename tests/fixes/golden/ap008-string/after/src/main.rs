use tikv_jemallocator::Jemalloc;

#[global_allocator]
static GLOBAL: Jemalloc = Jemalloc;

fn main() {
    // jemallocator stays in this comment
    let _probe = tikv_jemallocator::Jemalloc;
}
