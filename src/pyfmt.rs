//! Python's float formatting, for output that must match the book's printouts exactly.
//!
//! Python prints floats with `repr`: the shortest string that round-trips, `1.0` for integral
//! values, and exponents written with a sign and at least two digits (`1.8e-06`). Rust's
//! `{:?}` already produces the shortest round-trip digits and switches to exponent notation at
//! the same thresholds (below 1e-4 and from 1e16 up); only the exponent is spelled differently.

/// Formats `x` as Python's `repr(float)` does.
///
/// ```
/// use backprop::pyfmt::py_repr;
/// assert_eq!(py_repr(2.2), "2.2");
/// assert_eq!(py_repr(3.3000000000000003), "3.3000000000000003");
/// assert_eq!(py_repr(200.0), "200.0");
/// assert_eq!(py_repr(1.7966944727947356e-06), "1.7966944727947356e-06");
/// assert_eq!(py_repr(1e16), "1e+16");
/// ```
pub fn py_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let s = format!("{x:?}");
    match s.split_once('e') {
        None => s,
        Some((mantissa, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            // Python drops a trailing ".0" in exponent form: 1e+16, not 1.0e+16.
            let mantissa = mantissa.strip_suffix(".0").unwrap_or(mantissa);
            format!("{mantissa}e{sign}{digits:0>2}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::py_repr;

    #[test]
    fn matches_python_repr() {
        // Expected strings are what CPython 3 prints for the same literals.
        let cases = [
            (0.10748333333333333, "0.10748333333333333"),
            (1.0, "1.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.3941309729426087e-07, "1.3941309729426087e-07"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (1e15, "1000000000000000.0"),
            (-2.5e-10, "-2.5e-10"),
            (1e-100, "1e-100"),
        ];
        for (x, want) in cases {
            assert_eq!(py_repr(x), want, "{x:?}");
        }
    }
}
