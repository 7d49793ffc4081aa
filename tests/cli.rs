//! The `backprop` binary and the book's examples, driven as a user would.

mod common;

use std::process::{Command, Output};

use common::{backprop, backprop_command, stderr, stdout};

/// Runs an example with `cargo run --example NAME`, as a reader would: `cargo test
/// --all-targets` builds examples only as test harnesses, and a binary left in
/// target/*/examples by an earlier build may be stale, so cargo decides what to rebuild.
fn example(name: &str) -> String {
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args(["run", "--locked", "-q", "--example", name])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    // Without the variables cargo sets for this test: ring's build script reruns when
    // CARGO_MANIFEST_DIR changes, which would rebuild ring and everything above it here and
    // again at the next plain `cargo` command.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_BIN_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_CRATE_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "CARGO_RUSTC_CURRENT_DIR",
                "OUT_DIR",
            ]
            .contains(&&*key)
        {
            cargo.env_remove(&*key);
        }
    }
    // the profile this test was built with: target/<profile>/deps/cli-…
    let exe = std::env::current_exe().unwrap();
    if exe
        .parent()
        .and_then(|d| d.parent())
        .and_then(|d| d.file_name())
        == Some("release".as_ref())
    {
        cargo.arg("--release");
    }
    let out = cargo.output().unwrap();
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
fn gradient_check_example_prints_small_differences_per_parameter() {
    // ch05/gradient_check.py prints one "key:diff" line per parameter, in the net's order.
    let out = example("gradient_check");
    let lines: Vec<(&str, f64)> = out
        .lines()
        .map(|l| {
            let (key, diff) = l.split_once(':').expect("key:diff");
            (key, diff.parse().expect("a number"))
        })
        .collect();
    assert_eq!(
        lines.iter().map(|l| l.0).collect::<Vec<_>>(),
        ["W1", "b1", "W2", "b2"],
        "{out}"
    );
    for (key, diff) in lines {
        // Backprop against the central difference with h = 1e-4 in f64: far below 1e-6, and
        // not zero (a zero would mean one gradient compared with itself).
        assert!(diff > 0.0 && diff < 1e-6, "{key}: {diff}");
    }
    // The same computation as `backprop gradcheck` (the digits, seed 42).
    assert_eq!(out, stdout(&backprop(&["gradcheck"])));
}

#[test]
fn train_neuralnet_example_accuracy_rises_to_the_books_level() {
    // ch05/train_neuralnet.py on the digits: 3000 iterations of batch 100; one line
    // "train_acc test_acc" every 1437 / 100 = 14 iterations (1797 digits, 80 % for training).
    let out = example("train_neuralnet");
    let acc: Vec<[f64; 2]> = out
        .lines()
        .map(|l| {
            let v: Vec<f64> = l.split(' ').map(|x| x.parse().expect("a number")).collect();
            [v[0], v[1]]
        })
        .collect();
    assert_eq!(acc.len(), 3000_usize.div_ceil(14), "{out}");
    assert!(acc.iter().flatten().all(|a| (0.0..=1.0).contains(a)));
    // From chance (10 classes) at the first line…
    assert!(acc[0][0] < 0.2 && acc[0][1] < 0.2, "{:?}", acc[0]);
    // …rising quarter by quarter (measured means: train 0.77, 0.97, 0.985, 0.991)…
    let quarter = acc.len() / 4;
    let means: Vec<f64> = acc
        .chunks_exact(quarter)
        .take(4)
        .map(|q| q.iter().map(|a| a[0]).sum::<f64>() / quarter as f64)
        .collect();
    assert!(means.windows(2).all(|w| w[0] < w[1]), "{means:?}");
    // …to the book's level (measured: 0.994 train, 0.969 test).
    let last = acc[acc.len() - 1];
    assert!(last[0] > 0.99 && last[1] > 0.96, "{last:?}");
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
        // ch05/gradient_check.py (§5.7.3) with the 1e-7 guard in today's loss: differences
        // up to ~1e-7 are expected.
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

/// Every f32 walk the kernel planner chooses between adds in the same order, so forcing any
/// of them (`BACKPROP_KERNEL`) trains the same run to the bit; the general crates round
/// differently but stay the same run; a name that is no kernel is refused up front.
#[test]
fn every_planned_walk_trains_to_the_same_bits_and_unknown_kernels_are_refused() {
    let run = |kernel: &str| {
        backprop_command()
            .args(["train", "--epochs", "2", "--json"])
            .env("BACKPROP_KERNEL", kernel)
            .output()
            .expect("the binary runs")
    };
    let losses = |o: &Output| -> Vec<f64> {
        assert!(o.status.success(), "{}", stderr(o));
        stdout(o)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["loss"].as_f64())
            .collect()
    };
    let auto = losses(&run("auto"));
    assert_eq!(auto.len(), 2);
    for walk in [
        "direct-6x64",
        "direct-8x48",
        "direct-12x32",
        "packed-6x64",
        "packed-8x48",
        "packed-12x32",
    ] {
        assert_eq!(losses(&run(walk)), auto, "{walk}");
    }
    for general in ["gemm-crate", "matrixmultiply"] {
        for (a, b) in losses(&run(general)).iter().zip(&auto) {
            assert!((a - b).abs() <= 1e-5 * b.abs(), "{general}: {a} vs {b}");
        }
    }
    let o = run("packed-7x7");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with("error: BACKPROP_KERNEL=packed-7x7: not a kernel"),
        "{}",
        stderr(&o)
    );
    assert!(o.stdout.is_empty());
}

/// A diverging run exits with code 3, naming the step and the last finite loss (the
/// library's message) and the flags to change (the command line's advice).
#[test]
fn a_diverging_run_says_where_and_which_flag_to_change() {
    let o = backprop(&["train", "--lr", "1e30", "--epochs", "2"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.starts_with("error: training diverged at step ")
            && err.contains("(last finite loss: ")
            && err
                .trim_end()
                .ends_with("; try a lower --lr or --batch-norm"),
        "{err}"
    );
}
