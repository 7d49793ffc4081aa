//! Full-data tests on the real MNIST and Fashion-MNIST files: their published checksums and
//! label counts, and the book's training run.
//!
//! They look for the data as `backprop` does (`$BACKPROP_DATA/<name>/`, the user cache,
//! /usr/share/datasets/fashion-mnist/). Absent data skips a test with a printed note, unless
//! `BACKPROP_REQUIRE_DATA=1` (set on CI), which turns absence into a failure.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use backprop::data::datasets::{self, Known};
use common::backprop_command;

fn find(known: Known) -> Option<PathBuf> {
    match datasets::locate(known, None) {
        Ok((_, dir)) => Some(dir),
        Err(e) => {
            if std::env::var("BACKPROP_REQUIRE_DATA").is_ok_and(|v| v == "1") {
                panic!("BACKPROP_REQUIRE_DATA=1 but {known} is missing: {e}");
            }
            eprintln!("note: skipping, {known} is not installed ({e})");
            None
        }
    }
}

fn pixel_mean(images: &[u8]) -> f64 {
    images.iter().map(|&p| p as u64).sum::<u64>() as f64 / images.len() as f64 / 255.0
}

fn check_published(
    known: Known,
    dir: &Path,
    train_counts: &[usize],
    test_counts: &[usize],
    mean: f64,
) {
    datasets::verify_dir(known, dir).unwrap();
    let (split, found) = datasets::load_dir(dir, None).unwrap();
    assert_eq!(found, Some(known));
    assert_eq!(split.train.name, known.name());
    assert_eq!((split.train.len(), split.test.len()), (60_000, 10_000));
    assert_eq!(split.train.image_shape, [1, 28, 28]);
    assert_eq!(split.train.class_counts(), train_counts);
    assert_eq!(split.test.class_counts(), test_counts);
    let m = pixel_mean(&split.train.images);
    assert!((m - mean).abs() < 5e-4, "pixel mean {m}");
}

#[test]
fn mnist_matches_its_published_checksums_and_counts() {
    let Some(dir) = find(Known::Mnist) else {
        return;
    };
    check_published(
        Known::Mnist,
        &dir,
        &[5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
        &[980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
        0.1307,
    );
}

#[test]
fn fashion_mnist_matches_its_published_checksums_and_counts() {
    let Some(dir) = find(Known::FashionMnist) else {
        return;
    };
    check_published(Known::FashionMnist, &dir, &[6000; 10], &[1000; 10], 0.286);
}

/// The book's run (ch05/train_neuralnet.py): TwoLayerNet 784-50-10, SGD lr 0.1, batch 100,
/// 10,000 steps. Returns the final train and test accuracy.
fn books_run(dataset: &str, dir: &Path) -> (f64, f64) {
    let out = backprop_command()
        .args(["train", "--dataset", dataset, "--data"])
        .arg(dir)
        .args([
            "--hidden",
            "50",
            "--lr",
            "0.1",
            "--batch-size",
            "100",
            "--iters",
            "10000",
        ])
        .args(["--eval-every", "10000", "--json"])
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    eprintln!("{dataset}: {last}");
    (
        last["train_acc"].as_f64().unwrap(),
        last["test_acc"].as_f64().unwrap(),
    )
}

#[test]
fn books_run_on_mnist_reaches_its_accuracy() {
    let Some(dir) = find(Known::Mnist) else {
        return;
    };
    let (train, test) = books_run("mnist", &dir);
    // the book ends at train 0.9779, test 0.969
    assert!(test >= 0.965, "test accuracy {test}");
    assert!(train >= 0.965, "train accuracy {train}");
}

#[test]
fn books_run_on_fashion_mnist_reaches_its_accuracy() {
    let Some(dir) = find(Known::FashionMnist) else {
        return;
    };
    let (_, test) = books_run("fashion-mnist", &dir);
    assert!(test >= 0.85, "test accuracy {test}");
}

#[test]
fn import_places_a_verified_copy_that_train_and_list_find() {
    let Some(dir) = find(Known::Mnist) else {
        return;
    };
    let cache = std::env::temp_dir().join(format!("backprop-mnist-import-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    let bin = env!("CARGO_BIN_EXE_backprop");
    let run = |args: &[&str]| {
        Command::new(bin)
            .args(args)
            .env_remove("BACKPROP_DATA")
            .env("XDG_CACHE_HOME", &cache)
            .output()
            .unwrap()
    };
    let o = run(&["data", "import", "mnist", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let placed = cache.join("backprop/mnist");
    datasets::verify_dir(Known::Mnist, &placed).unwrap();
    let o = run(&["data", "list"]);
    let out = String::from_utf8_lossy(&o.stdout);
    let line = format!("mnist: {} (user cache): verified", placed.display());
    assert!(out.contains(&line), "{out}");
    // the same data under the other name is refused
    let o = run(&[
        "train",
        "--dataset",
        "fashion-mnist",
        "--data",
        placed.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("holds mnist, which conflicts"));
    std::fs::remove_dir_all(&cache).unwrap();
}
