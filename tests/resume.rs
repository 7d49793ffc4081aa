//! Checkpoints, resuming and interruption, driven through the binary as a user would.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{
    backprop, backprop_command, pad_header_like_a_pickle, scratch, weights, write_digits_idx,
};

/// A run with state everywhere: Adam's moments, dropout masks, batch norm statistics.
const RUN: &[&str] = &[
    "train",
    "--model",
    "multi-layer",
    "--hidden",
    "12,12",
    "--batch-norm",
    "--dropout",
    "0.1",
    "--optimizer",
    "adam",
    "--batch-size",
    "64",
    "--seed",
    "9",
];

fn checkpoints(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .collect();
    v.sort();
    v
}

#[test]
fn a_resumed_run_reaches_the_same_weights_as_an_uninterrupted_one() {
    let dir = scratch("same");
    let whole = dir.join("whole.safetensors");
    let o = backprop(&[RUN, &["--epochs", "6", "--save", whole.to_str().unwrap()]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // The same run with checkpoints; then pretend it stopped after epoch 5 by removing the
    // newest checkpoint, and resume.
    let cp = dir.join("cp");
    let o = backprop(
        &[
            RUN,
            &["--epochs", "6", "--checkpoint-dir", cp.to_str().unwrap()],
        ]
        .concat(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let files = checkpoints(&cp);
    assert_eq!(files.len(), 2, "the two newest are kept: {files:?}");
    std::fs::remove_file(files.last().unwrap()).unwrap();
    let resumed = dir.join("resumed.safetensors");
    let o = backprop(&[
        "train",
        "--resume",
        cp.to_str().unwrap(),
        "--save",
        resumed.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("resuming from step"), "{stdout}");
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("epoch")).count(),
        1,
        "{stdout}"
    );
    assert_eq!(weights(&whole), weights(&resumed));

    // A checkpoint is a model file too.
    let o = backprop(&["eval", "--model", checkpoints(&cp)[0].to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
#[test]
fn sigint_finishes_the_step_saves_a_checkpoint_and_exits_130() {
    let dir = scratch("sigint");
    let whole = dir.join("whole.safetensors");
    let long = ["--epochs", "300"];
    let o = backprop(&[RUN, &long, &["--save", whole.to_str().unwrap()]].concat());
    assert!(o.status.success());

    let cp = dir.join("cp");
    let mut child = backprop_command()
        .args([RUN, &long, &["--checkpoint-dir", cp.to_str().unwrap()]].concat())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once the first epoch is reported: 299 epochs are still to run, so the signal
    // always arrives before the end and the run must stop on it.
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    while !seen.last().is_some_and(|l: &String| l.starts_with("epoch")) {
        let line = stdout
            .next()
            .unwrap_or_else(|| panic!("no epoch line in {seen:?}"));
        seen.push(line.unwrap());
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let rest: Vec<String> = stdout.map(Result::unwrap).collect();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted") && stderr.contains("--resume"),
        "{stderr}"
    );
    assert!(rest.iter().any(|l| l.contains("interrupted:")), "{rest:?}");

    let resumed = dir.join("resumed.safetensors");
    let o = backprop(&[
        "train",
        "--resume",
        cp.to_str().unwrap(),
        "--save",
        resumed.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(weights(&whole), weights(&resumed));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn resume_errors_name_the_directory() {
    let dir = scratch("bad");
    let o = backprop(&["train", "--resume", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains(dir.to_str().unwrap()) && e.contains("no checkpoint"),
        "{e}"
    );
    std::fs::write(dir.join("step-00000010.safetensors"), b"garbage").unwrap();
    let o = backprop(&["train", "--resume", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("step-00000010.safetensors"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The dtype of the tensors of the model file at `path`.
fn dtype(path: &Path) -> String {
    backprop::io::safetensors::load::<f64>(path).unwrap().dtype
}

/// A checkpoint whose header length has the low byte 0x80 starts like a pickle (`80 0N`);
/// resuming from it must still continue in f32, bit for bit.
#[test]
fn a_checkpoint_that_starts_like_a_pickle_resumes_in_f32() {
    let dir = scratch("pickle-like");
    let run = [
        "train",
        "--hidden",
        "10",
        "--iters",
        "40",
        "--eval-every",
        "10",
    ];
    let whole = dir.join("whole.safetensors");
    let o = backprop(&[&run[..], &["--save", whole.to_str().unwrap()]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cp = dir.join("cp");
    let o = backprop(&[&run[..], &["--checkpoint-dir", cp.to_str().unwrap()]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::remove_file(checkpoints(&cp).last().unwrap()).unwrap();
    let newest = checkpoints(&cp).pop().unwrap();
    let n = pad_header_like_a_pickle(&newest);
    assert_eq!(std::fs::read(&newest).unwrap()[0], 0x80, "header {n:#x}");

    let resumed = dir.join("resumed.safetensors");
    let o = backprop(&[
        "train",
        "--resume",
        cp.to_str().unwrap(),
        "--save",
        resumed.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("resuming from step"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(dtype(&whole), "F32");
    assert_eq!(dtype(&resumed), "F32");
    assert_eq!(weights(&whole), weights(&resumed));
}

/// A run on one's own IDX data directory (`--data DIR`, not a known set) resumes, reading the
/// same directory, to the weights of the run that was never stopped.
#[test]
fn a_run_on_an_idx_directory_resumes() {
    let dir = scratch("idx-data");
    let data = dir.join("my-set");
    write_digits_idx(&data, 0..500, 500..700);
    let run = [
        "train",
        "--data",
        data.to_str().unwrap(),
        "--hidden",
        "10",
        "--iters",
        "40",
        "--eval-every",
        "10",
        "--optimizer",
        "momentum",
    ];
    let whole = dir.join("whole.safetensors");
    let o = backprop(&[&run[..], &["--save", whole.to_str().unwrap()]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cp = dir.join("cp");
    let o = backprop(&[&run[..], &["--checkpoint-dir", cp.to_str().unwrap()]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::remove_file(checkpoints(&cp).last().unwrap()).unwrap();

    let resumed = dir.join("resumed.safetensors");
    let o = backprop(&[
        "train",
        "--resume",
        cp.to_str().unwrap(),
        "--save",
        resumed.to_str().unwrap(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("500 train / 200 test samples"), "{out}");
    assert!(out.contains("resuming from step 21"), "{out}");
    assert_eq!(weights(&whole), weights(&resumed));
}

/// A run with a setting for most flags, checkpointed every 10 steps.
const SMALL: &[&str] = &[
    "train",
    "--model",
    "multi-layer",
    "--hidden",
    "12,12",
    "--batch-norm",
    "--optimizer",
    "adam",
    "--lr",
    "0.01",
    "--batch-size",
    "50",
    "--seed",
    "9",
    "--eval-every",
    "10",
];

/// Every file of `dir` with its bytes.
fn contents(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    checkpoints(dir)
        .into_iter()
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect()
}

/// `--resume` refuses, with exit 2 naming the flag and before touching the checkpoints, every
/// flag that contradicts the run it continues; a flag repeating the checkpoint's value, more
/// steps, the thread count and the outputs are accepted, and the longer run equals a run
/// that was that long from the start.
#[test]
fn resume_refuses_flags_that_contradict_the_checkpoint() {
    let dir = scratch("contradict");
    let cp = dir.join("cp");
    let cps = cp.to_str().unwrap();
    let o = backprop(&[SMALL, &["--iters", "40", "--checkpoint-dir", cps]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let before = contents(&cp);
    for (flags, named) in [
        (&["--lr", "0.02"][..], "--lr"),
        (&["--model", "two-layer"], "--model"),
        (&["--precision", "f64"], "--precision"),
        (&["--dataset", "mnist"], "--dataset"),
        (&["--seed", "1"], "--seed"),
        (&["--hidden", "12,13"], "--hidden"),
        (&["--optimizer", "sgd"], "--optimizer"),
        (&["--batch-size", "100"], "--batch-size"),
        (&["--dropout", "0.1"], "--dropout"),
        (&["--sampling", "replacement"], "--sampling"),
        (&["--beta1", "0.5"], "--beta1"),
        (&["--activation", "sigmoid"], "--activation"),
        (&["--init", "xavier"], "--init"),
        (&["--eval-samples", "10"], "--eval-samples"),
        (&["--epochs", "5"], "--epochs"),
        (&["--iters", "20"], "--iters"),
        (&["--lr", "0.01", "--weight-decay", "0.1"], "--weight-decay"),
    ] {
        let o = backprop(&[&["train", "--resume", cps][..], flags].concat());
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{flags:?}: {err}");
        assert!(err.contains(named), "{flags:?}: {err}");
        assert_eq!(contents(&cp), before, "{flags:?} touched the checkpoints");
    }

    // The same values, more steps, threads and outputs.
    let whole = dir.join("whole.safetensors");
    let o = backprop(&[SMALL, &["--iters", "60", "--save", whole.to_str().unwrap()]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let resumed = dir.join("resumed.safetensors");
    let o = backprop(
        &[
            SMALL,
            &[
                "--precision",
                "f32",
                "--beta1",
                "0.9",
                "--iters",
                "60",
                "--threads",
                "2",
                "--json",
                "--resume",
                cps,
                "--save",
                resumed.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let last = String::from_utf8_lossy(&o.stdout);
    assert!(
        last.lines().last().unwrap().contains("\"iters\":60"),
        "{last}"
    );
    assert_eq!(weights(&whole), weights(&resumed));

    // A run counted in epochs takes more epochs, not fewer than it has done.
    let ep = dir.join("epochs");
    let eps = ep.to_str().unwrap();
    let o = backprop(&["train", "--epochs", "2", "--checkpoint-dir", eps]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = backprop(&["train", "--resume", eps, "--epochs", "1"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--epochs 1") && err.contains("at least --epochs 2"),
        "{err}"
    );
    let o = backprop(&["train", "--resume", eps, "--epochs", "3", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    let epochs: Vec<u64> = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["epoch"].as_u64())
        .collect();
    assert_eq!(epochs, [3], "{out}");

    // --help says which flags go with --resume.
    let help = String::from_utf8_lossy(&backprop(&["train", "--help"]).stdout).into_owned();
    let resume = help.split("--resume").nth(1).unwrap();
    for flag in ["--epochs", "--threads", "--save"] {
        assert!(resume.contains(flag), "{help}");
    }
}

/// Two runs writing into one checkpoint directory would delete each other's checkpoints: the
/// second is refused while the first runs, and a run killed with SIGKILL leaves no lock
/// behind that blocks the next.
#[cfg(unix)]
#[test]
fn two_runs_cannot_share_a_checkpoint_directory() {
    let dir = scratch("shared");
    let cp = dir.join("cp");
    let cps = cp.to_str().unwrap();
    let mut first = backprop_command()
        .args([RUN, &["--epochs", "300", "--checkpoint-dir", cps]].concat())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Once the first epoch is reported, 299 are still to run.
    let mut lines = BufReader::new(first.stdout.take().unwrap()).lines();
    while !lines
        .next()
        .expect("the first run reports an epoch")
        .unwrap()
        .starts_with("epoch")
    {}
    let second = backprop(&["train", "--iters", "5", "--checkpoint-dir", cps]);
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{err}");
    assert!(
        err.contains(cps) && err.contains("in use by another backprop run"),
        "{err}"
    );
    first.kill().unwrap();
    first.wait().unwrap();
    let third = backprop(&["train", "--iters", "5", "--checkpoint-dir", cps]);
    assert!(
        third.status.success(),
        "{}",
        String::from_utf8_lossy(&third.stderr)
    );
}

/// The JSON lines of a `train --json` run: the evaluations, then the summary.
fn json_lines(o: &std::process::Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `--eval-samples N` (the book's Trainer): each evaluation scores the first N train and
/// test samples only, the final accuracies the whole sets. Checked against `eval` of the
/// saved model, which lists every test mistake; and a resumed run repeats the evaluations
/// and weights of the run that was never stopped.
#[test]
fn eval_samples_scores_the_first_samples_and_resumes_exactly() {
    let dir = scratch("eval-samples");
    let run = [
        "train",
        "--hidden",
        "20",
        "--epochs",
        "4",
        "--eval-samples",
        "50",
        "--seed",
        "4",
        "--json",
    ];
    let whole = dir.join("whole.safetensors");
    let o = backprop(&[&run[..], &["--save", whole.to_str().unwrap()]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines = json_lines(&o);
    let (evals, summary) = lines.split_at(lines.len() - 1);
    assert_eq!(evals.len(), 4);
    for r in evals {
        for key in ["train_acc", "test_acc"] {
            let correct = r[key].as_f64().unwrap() * 50.0;
            assert!(
                (correct - correct.round()).abs() < 1e-9,
                "{key} is not a count out of 50: {r}"
            );
        }
    }
    // The saved model is the one of the last evaluation.
    let o = backprop(&[
        "eval",
        "--model",
        whole.to_str().unwrap(),
        "--json",
        "--misclassified",
        "100000",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let e: serde_json::Value = serde_json::from_str(&String::from_utf8_lossy(&o.stdout)).unwrap();
    assert_eq!(e["samples"], 359);
    let wrong = e["misclassified"].as_array().unwrap();
    assert_eq!(wrong.len() as u64, 359 - e["correct"].as_u64().unwrap());
    let wrong_in_first_50 = wrong
        .iter()
        .filter(|m| m["index"].as_u64().unwrap() < 50)
        .count();
    let last = &evals[3];
    assert_eq!(
        last["test_acc"].as_f64().unwrap(),
        (50 - wrong_in_first_50) as f64 / 50.0,
        "{last}"
    );
    // The final accuracy is over the whole test set.
    assert_eq!(summary[0]["test_acc"], e["accuracy"]);
    assert_ne!(summary[0]["test_acc"], last["test_acc"], "an unlikely tie");

    let cp = dir.join("cp");
    let o = backprop(&[&run[..], &["--checkpoint-dir", cp.to_str().unwrap()]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::remove_file(checkpoints(&cp).last().unwrap()).unwrap();
    let resumed = dir.join("resumed.safetensors");
    let o = backprop(&[
        "train",
        "--resume",
        cp.to_str().unwrap(),
        "--json",
        "--save",
        resumed.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let again = json_lines(&o);
    let strip = |v: &serde_json::Value| {
        let mut v = v.clone();
        for k in ["seconds", "samples_per_sec"] {
            v.as_object_mut().unwrap().remove(k);
        }
        v
    };
    assert_eq!(again.len(), 2, "one evaluation left, then the summary");
    assert_eq!(strip(&again[0]), strip(&evals[3]));
    assert_eq!(again[1]["test_acc"], summary[0]["test_acc"]);
    assert_eq!(again[1]["train_acc"], summary[0]["train_acc"]);
    assert_eq!(weights(&whole), weights(&resumed));
}
