#[cfg(all(feature = "mimalloc", not(feature = "disable-mimalloc")))]
use mimalloc::MiMalloc;

#[cfg(all(feature = "mimalloc", not(feature = "disable-mimalloc")))]
#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn main() {}
