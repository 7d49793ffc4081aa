//! The same seed gives the same weights: bit for bit at a fixed `--threads`, and up to
//! floating-point reassociation across thread counts.

mod common;

use std::path::PathBuf;

use common::{backprop_command, run_ok, scratch, weights, write_idx};

/// Trains with `args`, `--seed seed` and `--threads threads`, returning every tensor of the saved model.
fn trained(tag: &str, threads: usize, seed: u64, args: &[&str]) -> Vec<(String, Vec<f32>)> {
    let path = scratch(&format!("{tag}-{threads}")).join("model.safetensors");
    let o = backprop_command()
        .args([
            "train",
            "--threads",
            &threads.to_string(),
            "--seed",
            &seed.to_string(),
        ])
        .args(args)
        .args(["--save", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = weights(&path);
    let _ = std::fs::remove_file(&path);
    out
}

fn bits(w: &[(String, Vec<f32>)]) -> Vec<(String, Vec<u32>)> {
    w.iter()
        .map(|(n, v)| (n.clone(), v.iter().map(|x| x.to_bits()).collect()))
        .collect()
}

fn check(tag: &str, args: &[&str]) {
    let one = trained(tag, 1, 7, args);
    assert_eq!(
        bits(&one),
        bits(&trained(tag, 1, 7, args)),
        "{tag}: --threads 1 twice"
    );
    let two = trained(tag, 2, 7, args);
    assert_eq!(
        bits(&two),
        bits(&trained(tag, 2, 7, args)),
        "{tag}: --threads 2 twice"
    );
    // Across thread counts only the summation order inside large products may differ.
    assert_eq!(one.len(), two.len());
    for ((n1, a), (n2, b)) in one.iter().zip(&two) {
        assert_eq!(n1, n2);
        let scale = a.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-6);
        for (x, y) in a.iter().zip(b) {
            assert!(
                (x - y).abs() <= 1e-4 * scale,
                "{tag}: {n1} differs across threads: {x} vs {y}"
            );
        }
    }
    // A different seed really changes the weights (the comparison above can fail).
    let other = trained(&format!("{tag}-seed8"), 1, 8, args);
    assert_ne!(bits(&one), bits(&other), "{tag}: the seed had no effect");
}

#[test]
fn two_layer_runs_repeat_bit_for_bit() {
    check("two-layer", &["--model", "two-layer", "--epochs", "2"]);
}

#[test]
fn simple_conv_runs_repeat_bit_for_bit() {
    check(
        "simple-conv",
        &[
            "--model",
            "simple-conv",
            "--iters",
            "30",
            "--batch-size",
            "50",
            "--optimizer",
            "adam",
        ],
    );
}

/// A directory of random 28×28 IDX data (MNIST's shape): large enough images that a
/// SimpleConvNet batch of 100 crosses the thresholds at which `--threads 2` splits the
/// convolution, pooling, ReLU and Adam work across threads.
fn mnist_shaped_dir() -> PathBuf {
    let dir = scratch("idx");
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for (prefix, n) in [("train", 400usize), ("t10k", 100)] {
        let images: Vec<u8> = (0..n * 784).map(|_| next() as u8).collect();
        let labels: Vec<u8> = (0..n).map(|_| (next() % 10) as u8).collect();
        for (kind, dims, data) in [
            ("images-idx3", vec![n, 28, 28], images),
            ("labels-idx1", vec![n], labels),
        ] {
            write_idx(&dir.join(format!("{prefix}-{kind}-ubyte")), &dims, &data);
        }
    }
    dir
}

#[test]
fn simple_conv_on_mnist_sized_images_repeats_bit_for_bit() {
    let dir = mnist_shaped_dir();
    check(
        "simple-conv-28",
        &[
            "--data",
            dir.to_str().unwrap(),
            "--model",
            "simple-conv",
            "--iters",
            "8",
            "--batch-size",
            "100",
            "--optimizer",
            "adam",
            "--lr",
            "0.001",
        ],
    );
}

/// The files one `train --seed 7 --iters 500` run writes into a fresh directory: the model,
/// the report, the plot (`plot` names its format) and the checkpoints.
fn files_of_a_run(tag: &str, plot: &str) -> Vec<(String, Vec<u8>)> {
    let dir = scratch(tag);
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    run_ok(&[
        "train",
        "--seed",
        "7",
        "--iters",
        "500",
        "--eval-every",
        "200",
        "--save",
        &path("m.safetensors"),
        "--report",
        &path("r.html"),
        "--plot",
        &path(plot),
        "--checkpoint-dir",
        &path("ck"),
    ]);
    let mut files = Vec::new();
    for sub in [dir.clone(), dir.join("ck")] {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&sub)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        names.sort();
        for p in names {
            let bytes = std::fs::read(&p).unwrap();
            let name = p.strip_prefix(&dir).unwrap().display().to_string();
            files.push((name, bytes));
        }
    }
    files
}

/// Same command, same seed: byte-identical model, checkpoints (which record no wall-clock
/// times), HTML report and PNG and SVG plots.
#[test]
fn identical_runs_write_identical_files() {
    for plot in ["p.png", "p.svg"] {
        let a = files_of_a_run(&format!("files-a-{plot}"), plot);
        let b = files_of_a_run(&format!("files-b-{plot}"), plot);
        let names: Vec<&str> = a.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "m.safetensors",
                plot,
                "r.html",
                "ck/.lock",
                "ck/step-00000201.safetensors",
                "ck/step-00000401.safetensors"
            ]
        );
        assert_eq!(names, b.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>());
        for ((name, x), (_, y)) in a.iter().zip(&b) {
            assert!(x == y, "{name} differs between two identical runs");
        }
    }
}
