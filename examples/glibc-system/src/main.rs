fn main() {
    // The allocator crate is in Cargo.toml, but nothing wires it:
    // #[global_allocator] static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
    println!("billing");
}
