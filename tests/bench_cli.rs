//! `backprop bench`: the JSON that `bench/compare.sh` reads. No speed is asserted here (speed
//! targets live in the benchmarks); these check what is measured and how it is reported.

mod common;

use common::backprop_command;

fn bench(args: &[&str]) -> serde_json::Value {
    let out = backprop_command()
        .arg("bench")
        .args(args)
        .args(["--seconds", "0", "--json"])
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

/// Checks what `bench` reported for `workload` run on `threads` threads.
fn assert_measured(v: &serde_json::Value, workload: &str, threads: f64, flops_per_rep: f64) {
    assert_eq!(v["workload"], workload);
    assert_eq!(v["runner"], "backprop");
    assert!(v["reps"].as_u64().unwrap() >= 3, "{v}");
    assert!(v["per_sec"].as_f64().unwrap() > 0.0, "{v}");
    let flops = v["flops_per_rep"].as_f64().unwrap();
    assert!(
        (flops - flops_per_rep).abs() < 1.0,
        "{flops} vs {flops_per_rep}"
    );
    let gflops = v["gflops"].as_f64().unwrap();
    let want = v["per_sec"].as_f64().unwrap() * flops / 1e9;
    assert!((gflops - want).abs() <= 1e-9 * want, "{gflops} vs {want}");
    if cfg!(target_os = "linux") {
        // On-CPU seconds of the timed reps: some work was done, by at most `threads` threads
        // over the wall-clock seconds timed. The slack covers the reads of /proc themselves and
        // a scheduler tick of lag per thread (the runs here are only a few steps long).
        let cpu = v["cpu_seconds"].as_f64().expect("on-CPU seconds on Linux");
        let wall = v["seconds"].as_f64().unwrap();
        assert!(cpu > 0.0, "{v}");
        assert!(cpu <= 1.1 * wall * threads + 0.02 * threads, "{v}");
        // (serde_json's parser may be one ulp off, hence no exact comparison).
        let per_cpu = v["reps"].as_f64().unwrap() / cpu;
        let got = v["cpu_per_sec"].as_f64().unwrap();
        assert!((got - per_cpu).abs() <= 1e-12 * per_cpu, "{v}");
    }
}

#[test]
fn conv_counts_the_books_simple_conv_net() {
    // conv 30×(1×5×5) at 24×24 positions, forward and dW (no dx for a first layer):
    // 2 · 2·100·576·750; Affine 4320×100 and 100×10: forward, dW and dx, 3 · 2·100·in·out.
    let want = 2.0 * 2.0 * 100.0 * 576.0 * 750.0 + 3.0 * 2.0 * 100.0 * (432_000.0 + 1_000.0);
    assert_measured(&bench(&["conv"]), "conv", 1.0, want);
}

#[test]
fn conv_products_count_the_same_flops_as_a_conv_step() {
    let want = 2.0 * 2.0 * 100.0 * 576.0 * 750.0 + 3.0 * 2.0 * 100.0 * (432_000.0 + 1_000.0);
    assert_measured(&bench(&["conv-products"]), "conv-products", 1.0, want);
}

#[test]
fn mlp_counts_two_layer_net_and_runs_on_two_threads() {
    // Affine 784×50 (first layer: forward and dW) and 50×10 (forward, dW, dx).
    let want = 2.0 * 2.0 * 100.0 * 39_200.0 + 3.0 * 2.0 * 100.0 * 500.0;
    assert_measured(&bench(&["mlp", "--threads", "2"]), "mlp", 2.0, want);
}

#[test]
fn gemm_counts_a_1024_cube() {
    assert_measured(&bench(&["gemm"]), "gemm", 1.0, 2.0 * 1024f64.powi(3));
}

#[test]
fn peak_counts_its_multiply_adds_on_each_thread() {
    // One block per thread: 2^16 rounds of 16 chains × 16 lanes (AVX-512), 12 × 8 (AVX2) or
    // 32 scalar chains, two flops each.
    let one = bench(&["peak"]);
    let two = bench(&["peak", "--threads", "2"]);
    let per_thread = one["flops_per_rep"].as_f64().unwrap();
    let rounds = 65_536.0 * 2.0;
    assert!(
        [16.0 * 16.0, 12.0 * 8.0, 32.0]
            .iter()
            .any(|lanes| per_thread == rounds * lanes),
        "{one}"
    );
    assert_measured(&one, "peak", 1.0, per_thread);
    assert_measured(&two, "peak", 2.0, 2.0 * per_thread);
}
