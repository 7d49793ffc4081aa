//! Putting verified files into a dataset directory atomically, and `import` of local copies.
//!
//! A file is first written to a temporary file in the destination directory
//! ([`crate::io::temp_file_beside`]: created exclusively under an unpredictable hidden name,
//! which the loader never reads), checked against the published length and sha256 of its
//! uncompressed content, and only then renamed into place. A partial or corrupt file is
//! removed, never left where the loader would find it.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::datasets::{FileSpec, Known, find_files, install_dir, verify_file};
use crate::error::{Error, Result};

/// A temporary file in the destination directory that is deleted (when dropped) unless
/// committed.
pub struct Staged {
    tmp: tempfile::NamedTempFile,
    dest: PathBuf,
}

impl Staged {
    /// Writes everything `src` yields to a temporary file beside `dest`. `on_bytes` is told
    /// how many bytes have been written so far (for a progress bar).
    pub fn write(
        dest: &Path,
        src: &mut dyn Read,
        on_bytes: &mut dyn FnMut(u64),
    ) -> io::Result<Staged> {
        let mut out = crate::io::temp_file_beside(dest)?;
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0u64;
        loop {
            let k = match src.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            out.write_all(&buf[..k])?;
            total += k as u64;
            on_bytes(total);
        }
        Ok(Staged {
            tmp: out,
            dest: dest.to_path_buf(),
        })
    }

    /// The temporary file's path.
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Verifies the staged file against `spec`, then renames it into place, replacing any
    /// other copy of the same file (raw or `.gz`) so that the loader sees only this one.
    pub fn commit(self, spec: &FileSpec) -> Result<PathBuf> {
        verify_file(self.tmp.path(), spec)?;
        let dir = self.dest.parent().unwrap_or(Path::new("."));
        for other in [dir.join(spec.name), dir.join(format!("{}.gz", spec.name))] {
            if other != self.dest && other.exists() {
                fs::remove_file(&other).map_err(|e| Error::io(&other, e))?;
            }
        }
        crate::io::persist(self.tmp, &self.dest).map_err(|e| Error::io(&self.dest, e))?;
        Ok(self.dest)
    }
}

/// Copies the four files of `known` from `src_dir` (raw or gzipped) into `dest_dir`, each
/// verified against the published checksums before it is placed. Returns `dest_dir`.
pub fn import_into(known: Known, src_dir: &Path, dest_dir: &Path) -> Result<PathBuf> {
    let sources = find_files(src_dir)?;
    // Check every source first, so that a bad set changes nothing in the destination.
    for (src, spec) in sources.iter().zip(known.files()) {
        verify_file(src, &spec)?;
    }
    fs::create_dir_all(dest_dir).map_err(|e| Error::io(dest_dir, e))?;
    for (src, spec) in sources.iter().zip(known.files()) {
        let dest = dest_dir.join(src.file_name().expect("a file"));
        if same_file(src, &dest) {
            continue;
        }
        let mut input = File::open(src).map_err(|e| Error::io(src, e))?;
        let staged =
            Staged::write(&dest, &mut input, &mut |_| {}).map_err(|e| Error::io(&dest, e))?;
        staged.commit(&spec)?;
    }
    Ok(dest_dir.to_path_buf())
}

/// [`import_into`] the install directory ([`install_dir`]).
pub fn import(known: Known, src_dir: &Path) -> Result<PathBuf> {
    import_into(known, src_dir, &install_dir(known)?)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_staged_file_failing_verification_is_removed() {
        let dir = std::env::temp_dir().join(format!("backprop-store-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let dest = dir.join("train-labels-idx1-ubyte");
        let spec = Known::Mnist.files()[1];
        let staged = Staged::write(&dest, &mut &b"not mnist"[..], &mut |_| {}).unwrap();
        let tmp = staged.path().to_path_buf();
        assert!(tmp.exists());
        let e = staged.commit(&spec).unwrap_err().to_string();
        assert!(e.contains("9 bytes of content"), "{e}");
        assert!(!tmp.exists() && !dest.exists());
        // dropped without commit: also gone
        let staged = Staged::write(&dest, &mut &b"x"[..], &mut |_| {}).unwrap();
        let tmp = staged.path().to_path_buf();
        drop(staged);
        assert!(!tmp.exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A link planted at the name the staging file used to have (`.NAME.tmp-PID`) must not
    /// redirect the download: the staging file is created exclusively under a fresh name.
    #[test]
    fn a_link_planted_at_the_staging_name_is_not_followed() {
        let dir = std::env::temp_dir().join(format!("backprop-staged-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let victim = dir.join("victim");
        fs::write(&victim, b"keep").unwrap();
        let dest = dir.join("train-labels-idx1-ubyte");
        let planted = dir.join(format!(
            ".train-labels-idx1-ubyte.tmp-{}",
            std::process::id()
        ));
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        let staged = Staged::write(&dest, &mut &b"downloaded"[..], &mut |_| {}).unwrap();
        assert_ne!(staged.path(), planted);
        assert_eq!(fs::read(staged.path()).unwrap(), b"downloaded");
        drop(staged);
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
        assert_eq!(fs::read_link(&planted).unwrap(), victim);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 2);
        fs::remove_dir_all(&dir).unwrap();
    }
}
