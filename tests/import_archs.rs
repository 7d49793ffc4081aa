//! The book's MultiLayerNet(Extend), SimpleConvNet and DeepConvNet pickles: `import` accepts
//! them, lists every mismatch in wrong ones, and the imported nets compute the logits that a
//! NumPy forward pass (in tests/fixtures/make_pickles.py) computed from the same weights.

mod common;

use backprop::io::import::import_pickle;
use backprop::nets::Arch;
use ndarray::ArrayD;

use common::{backprop, expected, fixture, scratch};

#[test]
fn imported_nets_compute_the_numpy_logits() {
    let all = expected();
    let nets = all["nets"].as_object().unwrap();
    assert_eq!(nets.len(), 4);
    for (file, want) in nets {
        let spec: Arch = want["arch"].as_str().unwrap().parse().unwrap();
        let (mut net, info, warnings) = import_pickle::<f64>(&fixture(file), &spec, None).unwrap();
        assert!(warnings.is_empty(), "{file}: {warnings:?}");
        // The input shape is not in the pickle: it was inferred from the weights.
        let shape: Vec<usize> = serde_json::from_value(want["input_shape"].clone()).unwrap();
        assert_eq!(info.image_shape.to_vec(), shape, "{file}");
        let inputs: Vec<f64> = serde_json::from_value(want["inputs"].clone()).unwrap();
        let logits: Vec<Vec<f64>> = serde_json::from_value(want["logits"].clone()).unwrap();
        let mut x_shape = vec![logits.len()];
        match info.arch.layout() {
            backprop::data::Layout::Flat => x_shape.push(inputs.len() / logits.len()),
            backprop::data::Layout::Image => x_shape.extend(&shape),
        }
        let x = ArrayD::from_shape_vec(x_shape, inputs).unwrap();
        let y = net.predict(x, false);
        for (row, want_row) in logits.iter().enumerate() {
            for (c, &w) in want_row.iter().enumerate() {
                let got = y[[row, c]];
                assert!(
                    (got - w).abs() <= 1e-10 * (1.0 + w.abs()),
                    "{file} sample {row} class {c}: {got} vs NumPy {w}"
                );
            }
        }
    }
}

#[test]
fn import_accepts_every_book_architecture() {
    let dir = std::env::temp_dir().join(format!("backprop-import-archs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (file, arch, want) in [
        (
            "multi_layer.pkl",
            "multi-layer:12,8",
            "as multi-layer (974 parameters: W1 b1 W2 b2 W3 b3; input [1, 8, 8], 10 classes)",
        ),
        (
            "multi_layer_bn.pkl",
            "multi-layer:10,6:sigmoid",
            "W1 b1 gamma1 beta1 W2 b2 gamma2 beta2 W3 b3; input [1, 8, 8]",
        ),
        (
            "simple_conv.pkl",
            "simple-conv",
            "as simple-conv (1014 parameters: W1 b1 W2 b2 W3 b3; input [1, 12, 12], 10 classes)",
        ),
        (
            "deep_conv.pkl",
            "deep-conv",
            "as deep-conv (72552 parameters: W1 b1 W2 b2 W3 b3 W4 b4 W5 b5 W6 b6 W7 b7 W8 b8; input [1, 8, 8]",
        ),
    ] {
        let out = dir.join(file.replace(".pkl", ".safetensors"));
        let o = backprop(&[
            "import",
            fixture(file).to_str().unwrap(),
            "--arch",
            arch,
            "--out",
            out.to_str().unwrap(),
        ]);
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(text.contains(want), "{file}: {text}");
        // The model file gives the same net back: eval runs it on the digits (8×8 inputs).
        if !file.starts_with("simple") {
            let o = backprop(&["eval", "--model", out.to_str().unwrap(), "--json"]);
            assert!(
                o.status.success(),
                "{file}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
    // A simple-conv net for 12×12 inputs does not fit the 8×8 digits: a clear refusal.
    let out = dir.join("simple_conv.safetensors");
    let o = backprop(&["eval", "--model", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("does not fit the digits dataset"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn wrong_pickles_list_every_mismatch() {
    // A writable output: the import must fail on the tensors, not on where it would write.
    let out = scratch("mismatch").join("x.safetensors");
    let out = out.to_str().unwrap();
    for (file, arch, lines) in [
        (
            "multi_layer_bad.pkl",
            "multi-layer:12,8",
            &[
                "tensor W2 has shape [12, 7], the architecture needs [12, 8]",
                "missing tensor b3 (expected shape [10])",
                "unexpected tensor W9 (shape [2])",
            ][..],
        ),
        (
            "simple_conv_bad.pkl",
            "simple-conv",
            &[
                "tensor b1 has shape [5], the architecture needs [4]",
                "tensor W3 has shape [11, 10], the architecture needs [12, 10]",
                "missing tensor b3 (expected shape [10])",
                "unexpected tensor gamma1 (shape [4])",
            ][..],
        ),
        // The right file under the wrong hidden sizes.
        (
            "multi_layer.pkl",
            "multi-layer:12,9",
            &[
                "tensor W2 has shape [12, 8], the architecture needs [12, 9]",
                "tensor b2 has shape [8], the architecture needs [9]",
                "tensor W3 has shape [8, 10], the architecture needs [9, 10]",
            ][..],
        ),
        (
            "multi_layer_bn_book.pkl",
            "multi-layer:10,6:sigmoid",
            &["no running_mean1/running_var1"][..],
        ),
    ] {
        let path = fixture(file);
        for args in [
            vec![
                "import",
                path.to_str().unwrap(),
                "--arch",
                arch,
                "--out",
                out,
            ],
            vec!["eval", "--model", path.to_str().unwrap(), "--arch", arch],
        ] {
            let o = backprop(&args);
            assert_eq!(o.status.code(), Some(1), "{file} {args:?}");
            let e = String::from_utf8_lossy(&o.stderr);
            assert!(
                e.starts_with(&format!("error: {}: ", path.display())),
                "{e}"
            );
            for line in lines {
                assert!(e.contains(line), "{file}: {line:?} not in {e}");
            }
            assert!(!std::path::Path::new(out).exists(), "{file}: wrote {out}");
        }
    }
}

#[test]
fn input_shape_overrides_the_inference() {
    let path = fixture("simple_conv.pkl");
    // 13×13 pools to the same 4×4 maps as 12×12 (conv 9×9, pool 4×4): both fit.
    let (_, info, _) = import_pickle::<f32>(
        &path,
        &Arch::book("simple-conv").unwrap(),
        Some([1, 13, 13]),
    )
    .unwrap();
    assert_eq!(info.image_shape, [1, 13, 13]);
    // 16×16 gives 6×6 maps: W2 no longer fits, and the error says so.
    let e = import_pickle::<f32>(
        &path,
        &Arch::book("simple-conv").unwrap(),
        Some([1, 16, 16]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("tensor W2 has shape [64, 12], the architecture needs [144, 12]"),
        "{e}"
    );
    let o = backprop(&[
        "import",
        path.to_str().unwrap(),
        "--arch",
        "simple-conv",
        "--input-shape",
        "1,13",
        "--out",
        "/nonexistent/x",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("expected C,H,W"));
}

/// Each book net, imported into a `.safetensors` file by the CLI and read back from that
/// file, still computes the NumPy logits: the file holds every value (batch norm's running
/// statistics included) in full f64 precision.
#[test]
fn imported_files_compute_the_numpy_logits() {
    let dir = scratch("imported-files");
    let all = expected();
    for (file, want) in all["nets"].as_object().unwrap() {
        let out = dir.join(format!("{file}.safetensors"));
        let o = backprop(&[
            "import",
            fixture(file).to_str().unwrap(),
            "--arch",
            want["arch"].as_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(
            o.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let mut m = backprop::io::safetensors::load::<f64>(&out).unwrap();
        assert_eq!(m.dtype, "F64", "{file}");
        let shape: Vec<usize> = serde_json::from_value(want["input_shape"].clone()).unwrap();
        let inputs: Vec<f64> = serde_json::from_value(want["inputs"].clone()).unwrap();
        let logits: Vec<Vec<f64>> = serde_json::from_value(want["logits"].clone()).unwrap();
        let mut x_shape = vec![logits.len()];
        match m.info.arch.layout() {
            backprop::data::Layout::Flat => x_shape.push(inputs.len() / logits.len()),
            backprop::data::Layout::Image => x_shape.extend(&shape),
        }
        let y = m
            .net
            .predict(ArrayD::from_shape_vec(x_shape, inputs).unwrap(), false);
        for (row, want_row) in logits.iter().enumerate() {
            for (c, &w) in want_row.iter().enumerate() {
                let got = y[[row, c]];
                assert!(
                    (got - w).abs() <= 1e-10 * (1.0 + w.abs()),
                    "{file} sample {row} class {c}: {got} vs NumPy {w}"
                );
            }
        }
    }
}
