//! The library's error type: every boundary a user can reach with bad input returns one.

use std::path::PathBuf;

/// What went wrong, with the file or the shapes involved.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A file's contents are not what they should be.
    #[error("{path}: {msg}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        msg: String,
    },
    /// Arrays or a configuration do not fit together.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A value that the user gave is out of range or unknown.
    #[error("{0}")]
    Invalid(String),
    /// Training produced a non-finite loss or weight.
    #[error("{0}")]
    Diverged(String),
    /// A run would need more memory than the process may have: smaller sizes are the fix.
    #[error("{0}")]
    TooLarge(String),
    /// A signal stopped the run before its end (what was kept is in the message).
    #[error("{0}")]
    Interrupted(String),
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A format error in `path`.
    pub fn format(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            msg: msg.into(),
        }
    }
}

/// The library's result type.
pub type Result<T> = std::result::Result<T, Error>;
