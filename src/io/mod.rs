//! Files: the project's own `.safetensors` model format, the book's parameter pickles, and
//! images to classify.
//!
//! Both go through the network's one walk over named tensors: [`Network::params`] (`W1`,
//! `b1`, …, `gamma1`, `beta1`) and [`Network::buffers`] (`running_mean1`, …).
//! [`set_tensors`] is the single place where named arrays from a file are checked against an
//! architecture and copied into a network.

pub mod checkpoint;
pub mod image;
pub mod import;
pub mod model_file;
pub mod pickle;
pub mod safetensors;

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::ArrayD;

use crate::error::{Error, Result};
use crate::float::Float;
use crate::nets::Network;

/// The shape of every tensor a network holds, parameters then buffers, in walk order.
pub fn tensor_shapes<F: Float>(net: &mut Network<F>) -> Vec<(String, Vec<usize>)> {
    let mut out: Vec<(String, Vec<usize>)> = net
        .params()
        .iter()
        .map(|p| (p.name.to_string(), p.value.shape().to_vec()))
        .collect();
    out.extend(
        net.buffers()
            .iter()
            .map(|(name, v)| (name.clone(), v.shape().to_vec())),
    );
    out
}

/// Every way the tensors a file holds (`found`: name → shape) differ from what the network
/// needs (`expected`), one line each: missing, misshapen, unexpected.
pub fn tensor_problems(
    expected: &[(String, Vec<usize>)],
    found: &BTreeMap<String, Vec<usize>>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, shape) in expected {
        match found.get(name) {
            None => problems.push(format!("missing tensor {name} (expected shape {shape:?})")),
            Some(s) if s != shape => problems.push(format!(
                "tensor {name} has shape {s:?}, the architecture needs {shape:?}"
            )),
            Some(_) => {}
        }
    }
    let names: Vec<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
    for (name, shape) in found {
        if !names.contains(&name.as_str()) {
            problems.push(format!(
                "unexpected tensor {name} (shape {shape:?}); the architecture has {}",
                names.join(" ")
            ));
        }
    }
    problems
}

/// The error for a list of `problems` with the tensors of `path` (the first
/// [`MAX_LISTED`] of them, then a count).
pub fn mismatch_error(path: &Path, problems: &[String]) -> Error {
    let mut msg = format!(
        "the tensors do not fit the architecture:\n  {}",
        problems[..problems.len().min(MAX_LISTED)].join("\n  ")
    );
    if problems.len() > MAX_LISTED {
        msg += &format!("\n  … and {} more", problems.len() - MAX_LISTED);
    }
    Error::format(path, msg)
}

/// How many tensor problems an error lists before it only counts them.
pub const MAX_LISTED: usize = 30;

/// Copies `tensors` into `net`, after checking that their names and shapes are exactly the
/// network's: every missing, unexpected or misshapen tensor is listed in one error naming
/// `path`. Returns warnings (non-finite values), which are not errors: a diverged model is
/// still a model the user may want to inspect.
pub fn set_tensors<F: Float>(
    net: &mut Network<F>,
    tensors: &BTreeMap<String, ArrayD<f64>>,
    path: &Path,
) -> Result<Vec<String>> {
    let found = tensors
        .iter()
        .map(|(k, v)| (k.clone(), v.shape().to_vec()))
        .collect();
    let problems = tensor_problems(&tensor_shapes(net), &found);
    if !problems.is_empty() {
        return Err(mismatch_error(path, &problems));
    }
    let mut warnings = Vec::new();
    let mut assign = |name: &str, mut dst: ndarray::ArrayViewMutD<'_, F>| {
        let src = &tensors[name];
        let bad = src.iter().filter(|v| !v.is_finite()).count();
        if bad > 0 {
            warnings.push(format!(
                "{}: tensor {name} has {bad} non-finite value(s) (NaN or infinity)",
                path.display()
            ));
        }
        dst.zip_mut_with(src, |d, &s| *d = F::lit(s));
    };
    for p in net.params() {
        assign(p.name, p.value);
    }
    for (name, v) in net.buffers() {
        assign(&name, v);
    }
    Ok(warnings)
}

/// The directory `path` would be written into (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Fails with an I/O error naming `path` when the directory it would be written into is
/// missing, so that a command can refuse before doing work whose result it could not save.
pub fn check_parent_dir(path: &Path) -> Result<()> {
    let dir = parent_dir(path);
    if dir.is_dir() {
        Ok(())
    } else {
        Err(Error::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("the directory {} does not exist", dir.display()),
            ),
        ))
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed to
/// disk, then renamed over `path`, so a crash never leaves a half-written model behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = parent_dir(path);
    let file_name = path
        .file_name()
        .ok_or_else(|| Error::Invalid(format!("{} is not a file path", path.display())))?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}
