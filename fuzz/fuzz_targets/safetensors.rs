//! The model-file loader must return a result, never panic, on any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = backprop::io::safetensors::from_bytes::<f32>(data, std::path::Path::new("fuzz"));
});
