//! Fuzz target: `load_bytes` on arbitrary bytes must return diagnostics, never panic, hang or
//! run out of memory (see `fuzz/README.md`).

#![no_main]

use std::path::Path;

use gauntlet::scenario::load_bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = load_bytes(Path::new("fuzz.toml"), data);
});
