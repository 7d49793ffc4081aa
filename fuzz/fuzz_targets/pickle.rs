//! The pickle reader, and the import of what it reads as a TwoLayerNet, must return a
//! result, never panic or allocate beyond the input, on any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

use backprop::io::import::network_from_tensors;
use backprop::nets::Arch;

fuzz_target!(|data: &[u8]| {
    if let Ok(tensors) = backprop::io::pickle::parse_pickle(data) {
        let _ = network_from_tensors::<f32>(
            &Arch::book("two-layer").unwrap(),
            &tensors,
            std::path::Path::new("fuzz"),
        );
    }
});
