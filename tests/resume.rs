//! Checkpoints, resuming and interruption, driven through the binary as a user would.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{backprop, backprop_command, pad_header_like_a_pickle, scratch, weights};

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
