use std::env;

#[global_allocator]
static GLOBAL: mi::MiMalloc = mi::MiMalloc;

fn main() {
    println!("{:?}", env::args().count());
}
