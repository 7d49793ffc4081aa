//! The book's scripts that have a command of their own (issue 18): each command run as a
//! reader would, its output checked against values computed independently.

mod common;

use common::{backprop, run_ok, scratch, stderr, stdout};

fn json(args: &[&str]) -> serde_json::Value {
    let o = backprop(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    serde_json::from_str(stdout(&o).trim()).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)))
}

fn points(v: &serde_json::Value) -> Vec<(f64, f64)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
        .collect()
}

/// Python, when it is here (CI sets BACKPROP_REQUIRE_PYTHON=1 so that its absence fails).
fn python(script: &str) -> Option<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    match std::process::Command::new("python3").arg(&path).output() {
        Ok(o) if o.status.success() => Some(String::from_utf8(o.stdout).unwrap()),
        r => {
            assert!(
                std::env::var("BACKPROP_REQUIRE_PYTHON").as_deref() != Ok("1"),
                "BACKPROP_REQUIRE_PYTHON=1 but python3 {script} failed: {r:?}"
            );
            eprintln!("skipping the Python comparison: python3 {script} failed: {r:?}");
            None
        }
    }
}

/// `ch06/optimizer_compare_naive.py`: every one of the 31 points of each path equals a
/// recomputation in plain Python from the book's update rules (to 1e-12), and the positions
/// after 1 and 30 updates equal the ones recorded from the book's own code.
#[test]
fn optimizer_paths_match_an_independent_computation() {
    let v = json(&["experiment", "optimizer-paths", "--json"]);
    let paths = v["paths"].as_array().unwrap();
    let names: Vec<&str> = paths.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["SGD", "Momentum", "AdaGrad", "Adam"]);
    let lrs: Vec<f64> = paths.iter().map(|p| p["lr"].as_f64().unwrap()).collect();
    assert_eq!(lrs, [0.95, 0.1, 1.5, 0.3]);

    // Recorded from the book's classes (common/optimizer.py) on this problem.
    let golden = [
        (
            (-6.335, -1.7999999999999998),
            (-0.3503929957523197, 0.0847823165504322),
        ),
        ((-6.93, 1.6), (0.896413858493733, 0.08808560171506971)),
        (
            (-5.500000214285683, 0.5000000374999991),
            (-0.12016232231416045, 2.486389893984459e-17),
        ),
        (
            (-6.700001355255732, 1.700000237170637),
            (0.13600685239498186, 0.31824537553721943),
        ),
    ];
    for (p, (one, thirty)) in paths.iter().zip(golden) {
        let pts = points(&p["points"]);
        assert_eq!(pts.len(), 31);
        assert_eq!(pts[0], (-7.0, 2.0));
        for (got, want) in [(pts[1], one), (pts[30], thirty)] {
            assert!(
                (got.0 - want.0).abs() < 1e-12 && (got.1 - want.1).abs() < 1e-12,
                "{}: {got:?} vs {want:?}",
                p["name"]
            );
        }
    }

    if let Some(out) = python("tests/fixtures/optimizer_paths.py") {
        let want: serde_json::Value = serde_json::from_str(&out).unwrap();
        for p in paths {
            let name = p["name"].as_str().unwrap();
            let (got, want) = (points(&p["points"]), points(&want[name]));
            assert_eq!(got.len(), want.len());
            for (k, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (g.0 - w.0).abs() < 1e-12 && (g.1 - w.1).abs() < 1e-12,
                    "{name} point {k}: {g:?} vs Python's {w:?}"
                );
            }
        }
    }
}

#[test]
fn optimizer_paths_draws_its_figure_and_refuses_data_flags() {
    let dir = scratch("paths");
    let png = dir.join("paths.png");
    let printed = run_ok(&[
        "experiment",
        "optimizer-paths",
        "--plot",
        png.to_str().unwrap(),
    ]);
    let text = printed;
    assert!(
        text.starts_with("SGD(lr=0.95): (-0.3503929957523197, 0.0847823165504322)"),
        "{text}"
    );
    assert_eq!(&std::fs::read(&png).unwrap()[..8], b"\x89PNG\r\n\x1a\n");
    let o = backprop(&["experiment", "optimizer-paths", "--dataset", "mnist"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--dataset does not apply"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_dir_all(dir).unwrap();
}

fn layer_stats(activation: &str, init: &str) -> Vec<serde_json::Value> {
    let v = json(&[
        "experiment",
        "activations",
        "--activation",
        activation,
        "--init",
        init,
        "--json",
    ]);
    assert_eq!(v["activation"], activation);
    v["layers"].as_array().unwrap().clone()
}

fn share(l: &serde_json::Value, bin: usize) -> f64 {
    l["counts"][bin].as_f64().unwrap() / l["total"].as_f64().unwrap()
}

/// `ch06/weight_init_activation_histogram.py`: the book's four pictures, as summary
/// statistics of the histograms the command prints.
#[test]
fn activation_histograms_show_the_books_patterns() {
    // Fig. 6-10: std 1 with sigmoid saturates at 0 and 1.
    for l in layer_stats("sigmoid", "std:1") {
        assert_eq!(l["counts"].as_array().unwrap().len(), 30);
        assert!(share(&l, 0) + share(&l, 29) > 0.5, "{l}");
    }
    // Fig. 6-11: std 0.01 collapses onto 0.5.
    for l in layer_stats("sigmoid", "std:0.01") {
        assert!((l["mean"].as_f64().unwrap() - 0.5).abs() < 0.01, "{l}");
        assert!(l["std"].as_f64().unwrap() < 0.03, "{l}");
        let middle: f64 = (12..18).map(|b| share(&l, b)).sum();
        assert!(middle > 0.999, "{l}");
    }
    // Fig. 6-13: Xavier spreads them, away from both ends.
    for l in layer_stats("sigmoid", "xavier") {
        assert!(share(&l, 0) + share(&l, 29) < 0.01, "{l}");
        assert!(l["std"].as_f64().unwrap() > 0.05, "{l}");
    }
    // Fig. 6-14: ReLU with He stays even; std 0.01 dies out layer by layer.
    let he: Vec<f64> = layer_stats("relu", "he")
        .iter()
        .map(|l| l["std"].as_f64().unwrap())
        .collect();
    let (lo, hi) = he
        .iter()
        .fold((f64::MAX, 0.0_f64), |(a, b), &s| (a.min(s), b.max(s)));
    assert!(hi / lo < 1.5, "{he:?}");
    let small: Vec<f64> = layer_stats("relu", "std:0.01")
        .iter()
        .map(|l| l["std"].as_f64().unwrap())
        .collect();
    assert!(small.windows(2).all(|w| w[1] < w[0] / 5.0), "{small:?}");
    // tanh centres on 0 over (−1, 1).
    let v = json(&[
        "experiment",
        "activations",
        "--activation",
        "tanh",
        "--init",
        "xavier",
        "--json",
    ]);
    assert_eq!(v["range"], serde_json::json!([-1.0, 1.0]));
    for l in v["layers"].as_array().unwrap() {
        assert!(l["mean"].as_f64().unwrap().abs() < 0.02, "{l}");
    }
}

#[test]
fn activations_draws_five_histograms_and_checks_its_flags() {
    let dir = scratch("activations");
    let svg = dir.join("act.svg");
    let printed = run_ok(&["experiment", "activations", "--plot", svg.to_str().unwrap()]);
    assert!(printed.contains("5-layer: mean"), "{}", printed);
    let text = std::fs::read_to_string(&svg).unwrap();
    for k in 1..=5 {
        assert!(text.contains(&format!("{k}-layer")), "panel {k} missing");
    }
    let o = backprop(&["experiment", "activations", "--activation", "softplus"]);
    assert_eq!(o.status.code(), Some(2));
    let o = backprop(&["experiment", "optimizers", "--init", "he"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--init does not apply"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_dir_all(dir).unwrap();
}

fn gradcheck(args: &[&str]) -> (Vec<(String, f64)>, String) {
    let mut all = vec!["gradcheck"];
    all.extend_from_slice(args);
    let o = backprop(&all);
    assert!(o.status.success(), "{all:?}: {}", stderr(&o));
    let lines = stdout(&o)
        .lines()
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect();
    (lines, stderr(&o))
}

fn names(lines: &[(String, f64)]) -> Vec<&str> {
    lines.iter().map(|(k, _)| k.as_str()).collect()
}

const BN_NAMES: [&str; 10] = [
    "W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2", "W3", "b3",
];

/// `ch06/batch_norm_gradient_check.py` as the book runs it, on one sample: its printout
/// (`W1:0.0 … beta2:0.0563 W3:0.0 b3:1.799e-07`) reproduced, and explained.
#[test]
fn one_sample_batch_norm_check_reproduces_the_books_printout() {
    let (lines, err) = gradcheck(&[
        "--model",
        "multi-layer",
        "--hidden",
        "100,100",
        "--batch-norm",
    ]);
    assert_eq!(names(&lines), BN_NAMES);
    for (k, v) in &lines {
        match k.as_str() {
            // The ReLU after the last batch norm sits on its kink: the central difference
            // reports half a one-sided slope, backprop 0 (the book: 0.05629…).
            "beta2" => assert!(*v > 0.01 && *v < 0.2, "{k}: {v}"),
            // All logits are b3 = 0, so softmax is 1/10 everywhere and the only difference is
            // the loss's +1e-7: |y − t|·δ/(y_t + δ) averaged, 0.18·1e-7/0.1000001, less the
            // central difference's own error; the book's script printed 1.7990357854824612e-07.
            "b3" => {
                assert!((v - 1.7990357854824612e-07).abs() < 1e-12, "{k}: {v}");
                assert!((v - 0.18 * 1e-7 / 0.1000001).abs() < 2e-10, "{k}: {v}");
            }
            // Nothing before the last batch norm reaches the loss, and W3 sees only zeros.
            _ => assert_eq!(*v, 0.0, "{k}"),
        }
    }
    assert!(
        err.contains("with one sample, batch norm's mean is the sample itself"),
        "{err}"
    );
}

/// The same check on 8 samples means something: every difference is small and none is 0.
#[test]
fn multi_sample_batch_norm_check_is_below_1e_6() {
    let (lines, err) = gradcheck(&[
        "--model",
        "multi-layer",
        "--hidden",
        "100,100",
        "--batch-norm",
        "--samples",
        "8",
    ]);
    assert_eq!(names(&lines), BN_NAMES);
    for (k, v) in &lines {
        assert!(*v > 0.0 && *v < 1e-6, "{k}: {v}");
    }
    assert!(err.is_empty(), "{err}");
}

/// `ch07/gradient_check.py`: SimpleConvNet on a random 1×10×10 image, 10 filters 3×3,
/// hidden 10; the book's differences run from 5e-11 (W2) to 2.9e-6 (b1).
#[test]
fn simple_conv_check_has_the_books_parameters_and_sizes() {
    let (lines, _) = gradcheck(&["--model", "simple-conv"]);
    assert_eq!(names(&lines), ["W1", "b1", "W2", "b2", "W3", "b3"]);
    for (k, v) in &lines {
        assert!(*v > 0.0 && *v < 1e-5, "{k}: {v}");
    }
    // b3 is off by the loss's 1e-7 as in the book (1.799e-07): nearly uniform softmax.
    let b3 = lines[5].1;
    assert!((b3 - 1.8e-7).abs() < 1e-9, "{b3}");
    let v = json(&["gradcheck", "--model", "simple-conv", "--json"]);
    assert_eq!(v.as_object().unwrap().len(), 6);
    // The book's sizes are the defaults; others can be asked for, and flags of other models
    // are refused.
    let (lines, _) = gradcheck(&[
        "--model",
        "simple-conv",
        "--filters",
        "4",
        "--filter-size",
        "5",
        "--hidden",
        "7",
    ]);
    assert_eq!(lines.len(), 6);
    for bad in [
        vec!["gradcheck", "--filters", "4"],
        vec!["gradcheck", "--model", "simple-conv", "--batch-norm"],
        vec!["gradcheck", "--model", "two-layer", "--hidden", "10,10"],
    ] {
        let o = backprop(&bad);
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
        assert!(stderr(&o).contains("error:"), "{bad:?}");
    }
}

/// `ch08/half_float_network.py`: a trained DeepConvNet keeps its test accuracy when every
/// weight and input is rounded to f16; and `misclassified_mnist.py`'s grid of mistakes.
#[test]
fn half_precision_keeps_a_trained_deep_convnets_accuracy() {
    let dir = scratch("half");
    let model = dir.join("deep.safetensors");
    run_ok(&[
        "train",
        "--model",
        "deep-conv",
        "--optimizer",
        "adam",
        "--lr",
        "0.003",
        "--iters",
        "150",
        "--save",
        model.to_str().unwrap(),
        "--json",
    ]);
    let png = dir.join("mistakes.png");
    let v = json(&[
        "eval",
        "--model",
        model.to_str().unwrap(),
        "--half",
        "--json",
        "--misclassified",
        "8",
        "--out",
        png.to_str().unwrap(),
    ]);
    let full = v["accuracy"].as_f64().unwrap();
    let half = v["half"]["accuracy"].as_f64().unwrap();
    assert!(full > 0.9, "the net did not learn: {full}");
    assert!((full - half).abs() <= 0.001, "f32 {full}, f16 {half}");
    assert_eq!(v["half"]["samples"], v["samples"]);
    // The grid: 8 tiles (5 per row, 2 rows) when there are at least 8 mistakes.
    let mistakes = v["misclassified"].as_array().unwrap().len();
    let bytes = std::fs::read(&png).unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(&bytes[..]));
    let info = decoder.read_info().unwrap().info().clone();
    let rows = mistakes.div_ceil(5) as u32;
    assert!(
        mistakes > 0 && info.height.is_multiple_of(rows),
        "{mistakes} mistakes, {}",
        info.height
    );
    assert_eq!(info.width, 150 * mistakes.min(5) as u32);

    let o = backprop(&["eval", "--model", model.to_str().unwrap(), "--out", "x.jpg"]);
    assert_eq!(o.status.code(), Some(2));
    std::fs::remove_dir_all(dir).unwrap();
}

/// `train --save-precision f16|bf16` stores 16-bit tensors that load into f32. The digits'
/// pixels are multiples of 1/16, exact in f16, so the f16 file classifies exactly as the
/// same run saved in f32 does under `eval --half` (which rounds the weights to f16).
#[test]
fn sixteen_bit_model_files_classify_as_the_rounded_net() {
    let dir = scratch("sixteen");
    let train = |name: &str, extra: &[&str]| {
        let path = dir.join(name);
        let mut args = vec![
            "train",
            "--hidden",
            "40",
            "--iters",
            "300",
            "--lr",
            "0.5",
            "--json",
            "--save",
            path.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = backprop(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        path
    };
    let f32_file = train("m32.safetensors", &[]);
    let f16_file = train("m16.safetensors", &["--save-precision", "f16"]);
    let bf16_file = train("mbf16.safetensors", &["--save-precision", "bf16"]);
    let size = |p: &std::path::Path| std::fs::metadata(p).unwrap().len() as f64;
    assert!(size(&f16_file) < 0.6 * size(&f32_file));
    let rounded = json(&[
        "eval",
        "--model",
        f32_file.to_str().unwrap(),
        "--half",
        "--json",
    ]);
    let f16 = json(&["eval", "--model", f16_file.to_str().unwrap(), "--json"]);
    assert_eq!(f16["dtype"], "F16");
    assert_eq!(f16["correct"], rounded["half"]["correct"]);
    let bf16 = json(&["eval", "--model", bf16_file.to_str().unwrap(), "--json"]);
    assert_eq!(bf16["dtype"], "BF16");
    let (a, b) = (
        rounded["accuracy"].as_f64().unwrap(),
        bf16["accuracy"].as_f64().unwrap(),
    );
    assert!(a > 0.9 && (a - b).abs() < 0.02, "f32 {a}, bf16 {b}");
    let o = backprop(&["train", "--save-precision", "f8", "--save", "x.safetensors"]);
    assert_eq!(o.status.code(), Some(2));
    std::fs::remove_dir_all(dir).unwrap();
}

/// `ch07/apply_filter.py`: a SimpleConvNet's 30 first-layer filters (5×5) applied to one
/// 8×8 digit give 30 maps of 4×4, drawn 8 per row; `--fresh` draws the untrained ones.
#[test]
fn feature_maps_are_drawn_before_and_after_training() {
    let dir = scratch("maps");
    let model = dir.join("conv.safetensors");
    run_ok(&[
        "train",
        "--model",
        "simple-conv",
        "--iters",
        "20",
        "--json",
        "--save",
        model.to_str().unwrap(),
    ]);
    let mut pixels = vec![255u8; 16 * 16];
    for y in 2..14 {
        pixels[y * 16 + 7] = 0;
        pixels[y * 16 + 8] = 0;
    }
    let image = dir.join("one.png");
    let bytes =
        backprop::io::image::encode_png(&pixels, 16, 16, png::ColorType::Grayscale).unwrap();
    std::fs::write(&image, bytes).unwrap();
    let (after, before) = (dir.join("after.png"), dir.join("before.png"));
    let printed = run_ok(&[
        "show",
        "feature-maps",
        "--model",
        model.to_str().unwrap(),
        image.to_str().unwrap(),
        "--out",
        after.to_str().unwrap(),
        "--fresh",
        before.to_str().unwrap(),
    ]);
    assert!(printed.contains("30 feature maps (4×4)"), "{}", printed);
    for path in [&after, &before] {
        let bytes = std::fs::read(path).unwrap();
        let info = png::Decoder::new(std::io::Cursor::new(&bytes[..]))
            .read_info()
            .unwrap()
            .info()
            .clone();
        // 8 columns and 4 rows of 4×4 maps scaled by 24, 4 pixels apart.
        assert_eq!((info.width, info.height), (8 * 96 + 9 * 4, 4 * 96 + 5 * 4));
    }
    assert_ne!(
        std::fs::read(&after).unwrap(),
        std::fs::read(&before).unwrap()
    );
    let o = backprop(&["show", "feature-maps", "--model", model.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "an image is required");
    std::fs::remove_dir_all(dir).unwrap();
}
