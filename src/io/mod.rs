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

/// Writes `bytes` to `path` atomically: a temporary file in the same directory
/// ([`temp_file_beside`]), flushed to disk, then renamed over `path` ([`persist`]), so a crash
/// never leaves a half-written model behind and a failed write leaves an existing file as it
/// was.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut tmp = temp_file_beside(path).map_err(|e| Error::io(path, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    persist(tmp, path).map_err(|e| Error::io(path, e))
}

/// A new temporary file in the directory `path` will be written into, for [`persist`] to
/// move over it: the crate's one temporary-file scheme.
///
/// It is created exclusively (`O_CREAT | O_EXCL`, so a link planted at its name is never
/// followed) under an unpredictable hidden name (`.backprop-XXXXXX.tmp`, which no loader
/// reads), and deleted when dropped unless persisted.
pub fn temp_file_beside(path: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    if path.file_name().is_none() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a file path",
        ));
    }
    tempfile::Builder::new()
        .prefix(".backprop-")
        .suffix(".tmp")
        .tempfile_in(parent_dir(path))
}

/// Moves a finished temporary file ([`temp_file_beside`]) over `path`: flushed to disk, given
/// the permissions a plain create would have (0666 less the umask, where the temporary file
/// has 0600), then renamed. On failure the temporary file is deleted and `path` is unchanged.
pub fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> std::io::Result<()> {
    tmp.as_file().sync_all()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o666 & !umask()))?;
    }
    tmp.persist(path).map(drop).map_err(|e| e.error)
}

/// The process's file-creation mask, read from `/proc/self/status` (reading it with
/// `umask(2)` would change it for a moment for every thread); `022` where that is missing.
#[cfg(unix)]
fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

    fn fresh_dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("backprop-io-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// The names the crate's temporary files used to have (`.NAME.tmpPID`, `.NAME.PID.tmp`,
    /// `.NAME.tmp-PID`): a link planted at any of them must not redirect the write.
    #[test]
    fn a_link_planted_at_a_temporary_name_is_not_followed() {
        let d = fresh_dir("planted");
        let victim = d.join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        let out = d.join("model.safetensors");
        let pid = std::process::id();
        let planted = [
            format!(".model.safetensors.tmp{pid}"),
            format!(".model.safetensors.{pid}.tmp"),
            format!(".model.safetensors.tmp-{pid}"),
        ];
        for name in &planted {
            symlink(&victim, d.join(name)).unwrap();
        }
        write_atomic(&out, b"the new model").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        assert_eq!(std::fs::read(&out).unwrap(), b"the new model");
        assert!(std::fs::symlink_metadata(&out).unwrap().is_file());
        for name in &planted {
            assert_eq!(std::fs::read_link(d.join(name)).unwrap(), victim);
        }
        // Nothing else was left behind: the victim, the links and the output.
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), planted.len() + 2);
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// An existing output is replaced by a new file (a rename), never rewritten in place: a
    /// hard link to the old file keeps the old bytes; the new file has the mode a plain
    /// create gives (0666 less the umask), not the temporary file's 0600.
    #[test]
    fn an_existing_output_is_replaced_whole_with_the_usual_mode() {
        let d = fresh_dir("replace");
        let out = d.join("report.html");
        std::fs::write(&out, b"old").unwrap();
        std::fs::hard_link(&out, d.join("old-link")).unwrap();
        write_atomic(&out, b"new").unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"new");
        assert_eq!(std::fs::read(d.join("old-link")).unwrap(), b"old");
        let plain = d.join("plain");
        std::fs::File::create(&plain).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&out), mode(&plain));
        assert_eq!(std::fs::metadata(&out).unwrap().nlink(), 1);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
