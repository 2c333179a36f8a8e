#![deny(unsafe_code)]
//! Search service.

use std::io;
use std::fmt;

mod cli;

#[cfg(target_env = "musl")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    cli::run();
}
