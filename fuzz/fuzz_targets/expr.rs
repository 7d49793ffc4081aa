//! Any bytes through the expression parser, and every graph that parses through forward,
//! backward and all three renderings: errors are fine, panics are not.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    backprop::graph::expr::check_input(data);
});
