//! `backprop train --model simple-conv|deep-conv` on the embedded 8×8 digits.

mod common;

use std::process::Output;

use common::{backprop, backprop_command, scratch};

fn train(args: &[&str]) -> Output {
    backprop(&[&["train"], args].concat())
}

fn final_line(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(out.lines().last().expect("a summary line")).expect("JSON")
}

#[test]
fn simple_conv_adapts_to_8x8_digits_and_learns() {
    let last = final_line(&train(&[
        "--model",
        "simple-conv",
        "--hidden",
        "100",
        "--lr",
        "1.0",
        "--batch-size",
        "50",
        "--epochs",
        "25",
        "--json",
    ]));
    assert_eq!(last["model"], "simple-conv");
    // W1 30×1×5×5, b1; W2 (30·2·2)×100, b2; W3 100×10, b3.
    assert_eq!(last["params"], 750 + 30 + 120 * 100 + 100 + 1000 + 10);
    let acc = last["test_acc"].as_f64().unwrap();
    assert!(acc > 0.95, "test accuracy {acc}");
}

#[test]
fn deep_conv_runs_on_8x8_digits() {
    let last = final_line(&train(&["--model", "deep-conv", "--iters", "3", "--json"]));
    assert_eq!(last["model"], "deep-conv");
    // Six convolutions (16-16-32-32-64-64 of 3×3), then Affine 64×50 and 50×10.
    let convs = [(1, 16), (16, 16), (16, 32), (32, 32), (32, 64), (64, 64)];
    let conv_params: usize = convs.iter().map(|(c, f)| f * c * 9 + f).sum();
    assert_eq!(last["params"], conv_params + 64 * 50 + 50 + 50 * 10 + 10);
}

#[test]
fn show_filters_writes_the_trained_and_the_fresh_grids() {
    let dir = scratch("filters");
    let model = dir.join("conv.safetensors");
    let o = train(&[
        "--model",
        "simple-conv",
        "--epochs",
        "1",
        "--save",
        model.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (after, before) = (dir.join("after.png"), dir.join("before.png"));
    let o = backprop_command()
        .args(["show", "filters", "--model", model.to_str().unwrap()])
        .args([
            "--out",
            after.to_str().unwrap(),
            "--fresh",
            before.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for png in [&after, &before] {
        let (_, w, h) = backprop::io::image::read_gray(png).unwrap();
        // 30 filters of 5×5 at 8× with 4-pixel spacing, 8 per row: 4 rows.
        assert_eq!((w, h), (8 * 40 + 9 * 4, 4 * 40 + 5 * 4));
    }
    assert_ne!(
        std::fs::read(&after).unwrap(),
        std::fs::read(&before).unwrap()
    );

    // A net without a convolution gets a clear error.
    let flat = dir.join("flat.safetensors");
    assert!(
        train(&["--epochs", "1", "--save", flat.to_str().unwrap()])
            .status
            .success()
    );
    let o = backprop_command()
        .args(["show", "filters", "--model", flat.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no convolution layer"));
    std::fs::remove_dir_all(&dir).unwrap();
}
