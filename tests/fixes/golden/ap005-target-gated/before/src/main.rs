#![deny(unsafe_code)]
//! Search service.

use std::io;
use std::fmt;

mod cli;

fn main() {
    cli::run();
}
