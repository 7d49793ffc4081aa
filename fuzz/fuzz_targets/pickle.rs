//! The pickle reader must return a result, never panic, on any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = backprop::io::pickle::parse_pickle(data);
});
