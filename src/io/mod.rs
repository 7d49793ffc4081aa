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
use std::path::{Path, PathBuf};

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

/// The files a command reads and writes, checked together before it does any work, so that
/// a run that could not save its results fails at once instead of after an hour of training.
///
/// [`Paths::check`] refuses, as a usage error ([`Error::Invalid`], exit 2), two outputs that
/// are the same file, an output that is one of the inputs, and an output that a directory
/// output manages (a `step-….safetensors` file in the checkpoint directory); and, as an I/O
/// error naming the path (exit 1), an output that is a directory, or whose directory is missing,
/// is not a directory or does not let us create a file. Paths are compared by their
/// canonical directory and file name, so `./x`, `x` and `sub/../x` are one file.
///
/// ```
/// use std::path::Path;
/// let err = backprop::io::Paths::new()
///     .output("--save", Some(Path::new("run.out")))
///     .output("--report", Some(Path::new("./run.out")))
///     .check()
///     .unwrap_err();
/// assert!(err.to_string().contains("--save and --report"));
/// ```
#[derive(Debug, Default)]
pub struct Paths<'a> {
    inputs: Vec<(&'a str, &'a Path)>,
    outputs: Vec<(&'a str, &'a Path)>,
    dirs: Vec<(&'a str, &'a Path, Owns)>,
}

/// Which file names a directory output writes and deletes itself (see [`Paths::output_dir`]).
pub type Owns = fn(&str) -> bool;

impl<'a> Paths<'a> {
    /// No paths yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A file the command reads, given by `flag` (if given at all).
    pub fn input(mut self, flag: &'a str, path: Option<&'a Path>) -> Self {
        self.inputs.extend(path.map(|p| (flag, p)));
        self
    }

    /// Files the command may read, all given by `flag` (the files of a data directory).
    pub fn inputs(mut self, flag: &'a str, paths: impl IntoIterator<Item = &'a Path>) -> Self {
        self.inputs.extend(paths.into_iter().map(|p| (flag, p)));
        self
    }

    /// A file the command writes, given by `flag` (if given at all).
    pub fn output(mut self, flag: &'a str, path: Option<&'a Path>) -> Self {
        self.outputs.extend(path.map(|p| (flag, p)));
        self
    }

    /// A directory the command writes files into (created if missing), given by `flag`; the
    /// files whose names `owns` accepts come and go there, so no other output may be one.
    pub fn output_dir(mut self, flag: &'a str, path: Option<&'a Path>, owns: Owns) -> Self {
        self.dirs.extend(path.map(|p| (flag, p, owns)));
        self
    }

    /// Checks every output as described on [`Paths`]: collisions first (they are the
    /// user's to fix whatever the file system holds), then the file system.
    pub fn check(&self) -> Result<()> {
        let mut claimed: Vec<(&str, PathBuf)> = Vec::new();
        for &(flag, path) in &self.outputs {
            let key = path_key(path);
            if let Some((other, _)) = claimed.iter().find(|(_, k)| *k == key) {
                return Err(Error::Invalid(format!(
                    "{other} and {flag} both write {}: give each output its own file",
                    path.display()
                )));
            }
            for &(input_flag, input) in &self.inputs {
                if input_keys(input).contains(&key) {
                    return Err(Error::Invalid(format!(
                        "{flag} {} would overwrite the input {input_flag}: write to another file",
                        path.display()
                    )));
                }
            }
            claimed.push((flag, key));
        }
        for &(flag, dir, owns) in &self.dirs {
            let key = dir_key(dir);
            for (other, k) in &claimed {
                let managed = k.parent() == Some(key.as_path())
                    && k.file_name().and_then(|n| n.to_str()).is_some_and(owns);
                if *k == key || managed {
                    return Err(Error::Invalid(format!(
                        "{other} {} is the directory {flag} {} or one of the files it \
                         replaces: write to another file",
                        k.display(),
                        dir.display()
                    )));
                }
            }
        }
        for (&(_, path), (_, key)) in self.outputs.iter().zip(&claimed) {
            // A file in a directory output that is yet to be created: checked with it.
            let in_new_dir = self
                .dirs
                .iter()
                .any(|&(_, dir, _)| !dir.exists() && key.parent() == Some(dir_key(dir).as_path()));
            if !in_new_dir {
                check_output_file(path)?;
            }
        }
        for &(_, dir, _) in &self.dirs {
            check_output_dir(dir)?;
        }
        Ok(())
    }
}

/// `path` with its directory made canonical (symbolic links and `..` resolved) and its last
/// component kept as it is: the same file always gives the same key. A missing directory
/// keeps the part that does not exist yet as written.
fn path_key(path: &Path) -> PathBuf {
    let Some(name) = path.file_name() else {
        return path.to_path_buf();
    };
    let dir = parent_dir(path);
    match std::fs::canonicalize(dir) {
        Ok(d) => d.join(name),
        Err(_) => path_key(dir).join(name),
    }
}

/// The keys under which an input can be overwritten: its own name, and the file it leads to.
fn input_keys(path: &Path) -> Vec<PathBuf> {
    let mut keys = vec![path_key(path)];
    keys.extend(std::fs::canonicalize(path).ok());
    keys
}

/// An I/O error of kind `kind` on `path` saying `msg`.
fn output_error(path: &Path, kind: std::io::ErrorKind, msg: String) -> Error {
    Error::io(path, std::io::Error::new(kind, msg))
}

/// Checks that a file can be written at `path` (see [`Paths`]).
fn check_output_file(path: &Path) -> Result<()> {
    if path.file_name().is_none() || path.as_os_str().to_string_lossy().ends_with('/') {
        return Err(output_error(
            path,
            std::io::ErrorKind::InvalidInput,
            "not a file name".into(),
        ));
    }
    if path.is_dir() {
        return Err(output_error(
            path,
            std::io::ErrorKind::IsADirectory,
            "is a directory; name a file to write".into(),
        ));
    }
    check_writable_dir(path, parent_dir(path))
}

/// The key of a directory: its canonical path if it exists.
fn dir_key(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir).unwrap_or_else(|_| path_key(dir))
}

/// Checks that files can be written into the directory `dir` (see [`Paths`]), or that it can
/// be created.
fn check_output_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return check_writable_dir(dir, dir);
    }
    if dir.exists() {
        return Err(output_error(
            dir,
            std::io::ErrorKind::NotADirectory,
            "is not a directory".into(),
        ));
    }
    // Created when needed, with its missing parents: the nearest existing one must let us.
    let mut existing = parent_dir(dir);
    while !existing.exists() && parent_dir(existing) != existing {
        existing = parent_dir(existing);
    }
    check_writable_dir(dir, existing)
}

/// Fails with an I/O error naming `path` unless `dir` is a directory in which a file can be
/// created, which it finds out by creating (and removing) a temporary file there: permission
/// bits do not tell, for root or on a read-only or special file system.
fn check_writable_dir(path: &Path, dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Err(output_error(
            path,
            std::io::ErrorKind::NotFound,
            format!("the directory {} does not exist", dir.display()),
        ));
    }
    if !dir.is_dir() {
        return Err(output_error(
            path,
            std::io::ErrorKind::NotADirectory,
            format!("{} is not a directory", dir.display()),
        ));
    }
    temp_file_beside(&dir.join("probe")).map_err(|e| {
        output_error(
            path,
            e.kind(),
            format!("cannot create a file in {}: {e}", dir.display()),
        )
    })?;
    Ok(())
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
