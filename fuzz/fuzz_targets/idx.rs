//! Any byte string given to the IDX reader yields an array or an error, never a panic, and
//! an array always holds exactly the bytes its dimensions declare.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(idx) = backprop::data::idx::parse_idx(data, Path::new("fuzz")) {
        assert_eq!(idx.data.len(), idx.dims.iter().product::<usize>());
    }
});
