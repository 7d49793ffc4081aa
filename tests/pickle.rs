//! The book's parameter pickles, as written by `tests/fixtures/make_pickles.py` with numpy:
//! every protocol (2–5), float32 and float64, C and Fortran order, big-endian data, and
//! files that must be refused.

mod common;

use std::path::Path;

use backprop::io::pickle::{load_pickle, parse_pickle};
use common::{expected, fixture};

/// Compares one file with what the script wrote, bit for bit (NaN: any NaN).
fn check_file(name: &str, want: &serde_json::Value) {
    let got = load_pickle(&fixture(name)).unwrap_or_else(|e| panic!("{e}"));
    let want = want.as_object().unwrap();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{name}"
    );
    for (key, w) in want {
        let a = &got[key];
        assert_eq!(
            a.shape(),
            serde_json::from_value::<Vec<usize>>(w["shape"].clone())
                .unwrap()
                .as_slice(),
            "{name} {key}"
        );
        let bits: Vec<u64> = w["bits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| u64::from_str_radix(b.as_str().unwrap(), 16).unwrap())
            .collect();
        // `iter()` walks in logical row-major order, as the script listed the values.
        let values: Vec<f64> = a.iter().copied().collect();
        assert_eq!(values.len(), bits.len(), "{name} {key}");
        for (i, (&v, &b)) in values.iter().zip(&bits).enumerate() {
            let w = f64::from_bits(b);
            assert!(
                v.to_bits() == b || (v.is_nan() && w.is_nan()),
                "{name} {key}[{i}]: got {v:e}, want {w:e}"
            );
        }
    }
}

#[test]
fn every_protocol_dtype_and_order_reads_exactly() {
    let exp = expected();
    let files = exp["files"].as_object().unwrap();
    let mut n = 0;
    for p in 2..=5 {
        for dt in ["f4", "f8"] {
            for order in ["C", "F"] {
                let name = format!("p{p}_{dt}_{order}.pkl");
                check_file(&name, &files[&name]);
                n += 1;
            }
        }
    }
    assert_eq!(n, 16);
}

#[test]
fn fortran_order_is_transposed_to_logical_order() {
    // The script wrote the same kind of values in both orders; the raw bytes differ but the
    // arrays are equal to what numpy holds, and T[i][j][k] is at row-major position.
    let f = load_pickle(&fixture("p4_f8_F.pkl")).unwrap();
    let exp = expected();
    let bits = &exp["files"]["p4_f8_F.pkl"]["T"]["bits"];
    let want =
        |i: usize| f64::from_bits(u64::from_str_radix(bits[i].as_str().unwrap(), 16).unwrap());
    let t = &f["T"];
    assert_eq!(t.shape(), &[2, 3, 4]);
    assert_eq!(t[[1, 2, 3]], want(23));
    assert_eq!(t[[0, 1, 2]], want(6));
    assert_eq!(t[[1, 0, 0]], want(12));
}

#[test]
fn big_endian_two_layer_and_long_memo_files_read_exactly() {
    let exp = expected();
    for name in [
        "big_endian.pkl",
        "two_layer.pkl",
        "two_layer_bad.pkl",
        "many_p2.pkl",
        "many_p3.pkl",
        "py2_strings.pkl",
    ] {
        check_file(name, &exp["files"][name]);
    }
}

#[test]
fn malicious_globals_are_refused_by_name_without_running_anything() {
    let marker = Path::new("/tmp/backprop-pwned");
    let _ = std::fs::remove_file(marker);
    for name in ["evil_p2.pkl", "evil_p4.pkl"] {
        let path = fixture(name);
        let e = load_pickle(&path).unwrap_err().to_string();
        assert!(e.contains(name), "{e}");
        assert!(
            e.contains("refusing the global `posix.system`")
                || e.contains("refusing the global `os.system`"),
            "{e}"
        );
    }
    assert!(!marker.exists(), "the pickle's command ran");
}

#[test]
fn one_array_under_two_names_is_refused() {
    let e = load_pickle(&fixture("shared.pkl")).unwrap_err().to_string();
    assert!(
        e.contains("the same array is stored under \"W1\" and \"W2\""),
        "{e}"
    );
}

#[test]
fn truncated_files_are_errors_at_every_length() {
    let bytes = std::fs::read(fixture("p2_f8_F.pkl")).unwrap();
    for n in 0..bytes.len() {
        let e = parse_pickle(&bytes[..n]).unwrap_err();
        assert!(e.offset <= n, "{n}: {e}");
    }
    assert!(parse_pickle(&bytes).is_ok());
}

#[test]
fn damaged_files_name_the_problem() {
    let p4 = std::fs::read(fixture("p4_f8_C.pkl")).unwrap();
    // An opcode no parameter pickle uses.
    let mut b = p4.clone();
    b[11] = b'i'; // INST, where EMPTY_DICT was
    let e = parse_pickle(&b).unwrap_err();
    assert_eq!(e.offset, 11);
    assert!(e.to_string().contains("unsupported opcode 0x69"), "{e}");

    // The byte length of an array's data no longer matches its shape: change the shape
    // (3, 4) of W1 to (3, 5).
    let at = p4.windows(4).position(|w| w == [b'K', 3, b'K', 4]).unwrap();
    let mut b = p4.clone();
    b[at + 3] = 5;
    let e = parse_pickle(&b).unwrap_err().to_string();
    assert!(
        e.contains("shape [3, 5]") && e.contains("96 data bytes"),
        "{e}"
    );

    // A declared length far beyond the file.
    let e = parse_pickle(b"\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\x7f").unwrap_err();
    assert!(e.to_string().contains("truncated"), "{e}");

    // Not a dict of arrays.
    let e = parse_pickle(b"\x80\x04K\x05.").unwrap_err();
    assert!(e.to_string().contains("no dict of arrays"), "{e}");
    let e = parse_pickle(b"\x80\x04}(\x8c\x01aK\x01u.").unwrap_err();
    assert!(
        e.to_string().contains("the value of \"a\" is an int"),
        "{e}"
    );

    // Deep nesting is bounded.
    let mut deep = b"\x80\x04K\x00".to_vec();
    deep.extend(std::iter::repeat_n(0x85u8, 100));
    let e = parse_pickle(&deep).unwrap_err();
    assert!(e.to_string().contains("nest"), "{e}");

    // Protocol 0/1 and 6 are not parameter pickles we read.
    assert!(
        parse_pickle(b"\x80\x01}.")
            .unwrap_err()
            .to_string()
            .contains("protocol 1")
    );
    assert!(parse_pickle(b"\x80\x05}.").unwrap().is_empty());
}
