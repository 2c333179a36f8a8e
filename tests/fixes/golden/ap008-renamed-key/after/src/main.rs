use jem::Jemalloc;

#[global_allocator]
static GLOBAL: Jemalloc = Jemalloc;

fn main() {
    // jem stays in this comment
    let _probe = jem::Jemalloc;
}
