//! Helpers shared by the integration tests: running the binary as a user would, fresh
//! directories, the pickle fixtures, IDX files, and the tensors of a saved model.
//!
//! Each test file includes this with `mod common;` and uses what it needs.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use backprop::io::safetensors;

/// The `backprop` binary that `cargo test` built.
pub const BIN: &str = env!("CARGO_BIN_EXE_backprop");

/// A command for the binary, for runs that need more than [`backprop`] gives (an environment,
/// stdin, a child to signal).
pub fn backprop_command() -> Command {
    Command::new(BIN)
}

/// Runs the binary with `args` and waits for it.
pub fn backprop(args: &[&str]) -> Output {
    backprop_command()
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Runs the binary with `args`, asserts that it succeeded (naming the arguments and what it
/// printed on stderr otherwise) and returns what it printed on stdout.
pub fn run_ok(args: &[&str]) -> String {
    let o = backprop(args);
    assert!(o.status.success(), "backprop {args:?}: {}", stderr(&o));
    stdout(&o)
}

/// What the run printed on stdout.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What the run printed on stderr.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh empty directory for one test's files, named after the test file, `name` and this
/// process, so that neither parallel tests nor other test files share it.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "backprop-{}-{name}-{}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A file of tests/fixtures/pickles (written by tests/fixtures/make_pickles.py).
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pickles")
        .join(name)
}

/// What make_pickles.py computed with NumPy for the fixtures (tests/fixtures/pickles/expected.json).
pub fn expected() -> serde_json::Value {
    let text = std::fs::read_to_string(fixture("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The bytes of an IDX file of unsigned bytes (LeCun et al.'s format): magic `0 0 8 ndim`,
/// each dimension as a big-endian u32, then `body` (which need not match the dimensions).
pub fn idx(dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(body);
    v
}

/// Writes an IDX file of `dims` and `data` to `path`.
pub fn write_idx(path: &Path, dims: &[usize], data: &[u8]) {
    let dims: Vec<u32> = dims.iter().map(|&d| d as u32).collect();
    std::fs::write(path, idx(&dims, data)).unwrap();
}

/// Every tensor of the model saved at `path`: its parameters, then its buffers (batch norm
/// statistics), by name.
pub fn weights(path: &Path) -> Vec<(String, Vec<f32>)> {
    let mut m = safetensors::load::<f32>(path).unwrap();
    let mut out: Vec<(String, Vec<f32>)> = m
        .net
        .params()
        .iter()
        .map(|p| (p.name.to_string(), p.value.iter().copied().collect()))
        .collect();
    out.extend(
        m.net
            .buffers()
            .into_iter()
            .map(|(n, v)| (n, v.iter().copied().collect())),
    );
    out
}

/// Writes the embedded digits into `dir` as the four IDX files of a data directory: the
/// samples `train` as the training set and `test` as the test set, pixels 0–16 scaled to
/// 0–240.
pub fn write_digits_idx(dir: &Path, train: std::ops::Range<usize>, test: std::ops::Range<usize>) {
    std::fs::create_dir_all(dir).unwrap();
    let digits = backprop::data::digits::load_digits().unwrap();
    for (name, range) in [("train", train), ("t10k", test)] {
        let images: Vec<u8> = range
            .clone()
            .flat_map(|i| digits.image(i).iter().map(|&v| v * 15))
            .collect();
        let n = range.len();
        write_idx(
            &dir.join(format!("{name}-images-idx3-ubyte")),
            &[n, 8, 8],
            &images,
        );
        write_idx(
            &dir.join(format!("{name}-labels-idx1-ubyte")),
            &[n],
            &digits.labels[range],
        );
    }
}

/// The header of the safetensors file at `path`: its declared length and the length of its
/// JSON without the padding spaces after it.
pub fn safetensors_header(path: &Path) -> (usize, usize) {
    let bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let json = std::str::from_utf8(&bytes[8..8 + n]).unwrap().trim_end();
    (n, json.len())
}

/// Rewrites the safetensors file at `path` with its header padded with spaces (which JSON
/// allows) to the first length at least its JSON whose low byte is 0x80, so that the file
/// starts `80 0N`, like a pickle of protocol N. Returns the new length.
pub fn pad_header_like_a_pickle(path: &Path) -> usize {
    let bytes = std::fs::read(path).unwrap();
    let (n, json) = safetensors_header(path);
    let new = (json..).find(|m| m % 0x100 == 0x80).unwrap();
    let mut out = (new as u64).to_le_bytes().to_vec();
    out.extend(&bytes[8..8 + json]);
    out.resize(8 + new, b' ');
    out.extend(&bytes[8 + n..]);
    std::fs::write(path, out).unwrap();
    new
}
