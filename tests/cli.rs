//! The `backprop` binary and the book's examples, driven as a user would.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::{backprop, backprop_command, stderr, stdout};

/// Runs an example the way `cargo run --example NAME` would; `cargo test` builds examples
/// next to the binary.
fn example(name: &str) -> String {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_backprop"));
    let path = bin.parent().unwrap().join("examples").join(name);
    let out = if path.exists() {
        Command::new(path).output().unwrap()
    } else {
        Command::new(env!("CARGO"))
            .args(["run", "-q", "--example", name])
            .output()
            .unwrap()
    };
    assert!(out.status.success(), "{name}: {}", stderr(&out));
    stdout(&out)
}

#[test]
fn buy_apple_prints_the_books_lines() {
    assert_eq!(
        example("buy_apple"),
        "price: 220\ndApple: 2.2\ndApple_num: 110\ndTax: 200\n"
    );
}

#[test]
fn buy_apple_orange_prints_the_books_lines() {
    assert_eq!(
        example("buy_apple_orange"),
        "price: 715\ndApple: 2.2\ndApple_num: 110\ndOrange: 3.3000000000000003\n\
         dOrange_num: 165\ndTax: 650\n"
    );
}

#[test]
fn gradcheck_differences_are_small_and_named() {
    let out = backprop(&["gradcheck"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let names: Vec<&str> = text.lines().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(names, ["W1", "b1", "W2", "b2"]);
    for line in text.lines() {
        let v: f64 = line.split(':').nth(1).unwrap().parse().unwrap();
        // book.md §2: with the 1e-7 guard in the loss, differences up to ~1e-7 are expected.
        assert!(v > 0.0 && v <= 1e-6, "{line}");
    }

    let json: serde_json::Value =
        serde_json::from_str(&stdout(&backprop(&["gradcheck", "--json"]))).unwrap();
    for k in ["W1", "b1", "W2", "b2"] {
        let v = json[k].as_f64().unwrap();
        assert!(v <= 1e-6, "{k}: {v}");
    }
}

#[test]
fn default_training_run_reaches_95_percent_and_reports_json_lines() {
    let out = backprop(&["train", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    let (last, epochs) = lines.split_last().unwrap();
    assert_eq!(epochs.len(), 200);
    for (i, e) in epochs.iter().enumerate() {
        assert_eq!(e["epoch"], i + 1);
        for k in ["iter", "loss", "train_acc", "test_acc", "seconds"] {
            assert!(e[k].is_number(), "{k} missing in {e}");
        }
    }
    assert_eq!(last["final"], true);
    assert_eq!(last["model"], "two-layer");
    assert_eq!(last["dataset"], "digits");
    assert_eq!(last["params"], 64 * 50 + 50 + 50 * 10 + 10);
    let test_acc = last["test_acc"].as_f64().unwrap();
    assert!(test_acc >= 0.95, "test accuracy {test_acc}");
    assert!(last["samples_per_sec"].as_f64().unwrap() > 0.0);
    // learning happened: the loss fell
    assert!(epochs[199]["loss"].as_f64() < epochs[0]["loss"].as_f64());
}

#[test]
fn human_output_has_a_line_per_epoch_and_no_progress_bar_when_piped() {
    let out = backprop(&["train", "--epochs", "3", "--seed", "7"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert_eq!(
        text.lines().filter(|l| l.starts_with("epoch")).count(),
        3,
        "{text}"
    );
    assert!(text.contains("train acc") && text.contains("test acc"));
    assert!(
        stderr(&out).is_empty(),
        "stderr is not a terminal: {}",
        stderr(&out)
    );
}

#[test]
fn same_seed_same_run() {
    let a = stdout(&backprop(&[
        "train", "--epochs", "5", "--seed", "3", "--json",
    ]));
    let b = stdout(&backprop(&[
        "train", "--epochs", "5", "--seed", "3", "--json",
    ]));
    let strip = |s: &str| -> Vec<(f64, f64, f64)> {
        s.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["final"].is_null())
            .map(|v| {
                (
                    v["loss"].as_f64().unwrap(),
                    v["train_acc"].as_f64().unwrap(),
                    v["test_acc"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(strip(&a), strip(&b));
    let c = stdout(&backprop(&[
        "train", "--epochs", "5", "--seed", "4", "--json",
    ]));
    assert_ne!(strip(&a), strip(&c));
}

#[test]
fn iters_and_eval_every_follow_the_books_schedule() {
    let out = backprop(&[
        "train",
        "--iters",
        "50",
        "--eval-every",
        "20",
        "--sampling",
        "replacement",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let iters: Vec<u64> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter_map(|v| v["iter"].as_u64().filter(|_| v["final"].is_null()))
        .collect();
    // evaluated after steps i = 0, 20, 40 (counted from 0), like `i % 600 == 0` in the book
    assert_eq!(iters, [1, 21, 41]);
}

#[test]
fn bad_arguments_exit_2_with_a_one_line_error() {
    for args in [
        &["train", "--lr", "0"][..],
        &["train", "--lr", "-0.1"],
        &["train", "--lr", "abc"],
        &["train", "--batch-size", "0"],
        &["train", "--hidden", "0"],
        &["train", "--dataset", "imagenet"],
        &["train", "--epochs", "3", "--iters", "5"],
        &["train", "--no-such-flag"],
        &["frobnicate"],
        &["gradcheck", "--samples", "0"],
    ] {
        let out = backprop(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.starts_with("error:"), "{args:?}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("backtrace"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn help_and_version_succeed() {
    let out = backprop(&["--help"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("train") && stdout(&out).contains("gradcheck"));
    assert!(backprop(&["--version"]).status.success());
}

/// `train --epochs 3 --json` on the digits with `BACKPROP_SIMD=level`.
fn train_with_simd(level: &str) -> Output {
    backprop_command()
        .args(["train", "--epochs", "3", "--json"])
        .env("BACKPROP_SIMD", level)
        .output()
        .expect("the binary runs")
}

#[test]
fn every_instruction_set_trains_alike_and_others_are_refused() {
    let losses = |o: &Output| -> Vec<f64> {
        assert!(o.status.success(), "{}", stderr(o));
        stdout(o)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["loss"].as_f64())
            .collect()
    };
    let baseline = losses(&train_with_simd("baseline"));
    assert_eq!(baseline.len(), 3);
    let require_avx512 = std::env::var("BACKPROP_REQUIRE_AVX512").as_deref() == Ok("1");
    for level in ["avx2", "avx512"] {
        let o = train_with_simd(level);
        if o.status.code() == Some(2) && stderr(&o).contains("this CPU does not support it") {
            // CI sets BACKPROP_REQUIRE_AVX512=1 on machines that have it.
            assert!(!require_avx512, "{level}: {}", stderr(&o));
            continue;
        }
        // Other kernels round differently in places; the run must stay the same run.
        for (a, b) in losses(&o).iter().zip(&baseline) {
            assert!((a - b).abs() <= 1e-5 * b.abs(), "{level}: {a} vs {b}");
        }
    }
    for bad in ["sse9", "AVX2", ""] {
        let o = train_with_simd(bad);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", stderr(&o));
        assert!(
            stderr(&o).starts_with(&format!(
                "error: BACKPROP_SIMD={bad}: not an instruction set"
            )),
            "{}",
            stderr(&o)
        );
        assert!(o.stdout.is_empty());
    }
}
