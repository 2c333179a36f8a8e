use mimalloc::MiMalloc;

#[cfg(unix)]
#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn main() {}
