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
    /// The library cannot go on without something only the caller can give: the message
    /// says what happened, [`Fix`] what to give (a command line names its flag, a binding
    /// its argument).
    #[error("{msg}")]
    Needs {
        /// What happened, naming the file or the expression.
        msg: String,
        /// What the caller can give to get past it.
        fix: Fix,
    },
}

/// What a caller can give to get past an [`Error::Needs`].
#[derive(Clone, Debug, PartialEq)]
pub enum Fix {
    /// An architecture: a pickle records tensors only (a usage error).
    Arch,
    /// The input shape `C,H,W`: the weights do not determine it (a property of the file).
    InputShape,
    /// Another checkpoint directory, or the end of the run that holds this one (locked).
    OtherCheckpointDir,
    /// A value for each of these names of an expression (a usage error).
    Values(Vec<String>),
    /// No value for this name, which the expression does not have (a usage error).
    NoSuchName(String),
    /// A longer run: a resumed run cannot end at `wanted`, before the `done` steps its
    /// checkpoint has taken (`per_epoch` steps per epoch when `wanted` counts epochs).
    Longer {
        /// The length asked for.
        wanted: crate::train::Length,
        /// Steps already taken.
        done: usize,
        /// Steps per epoch.
        per_epoch: usize,
    },
    /// Another dataset: the directory holds `found`, not the `wanted` one (a usage error).
    Dataset {
        /// The directory.
        dir: PathBuf,
        /// The set it holds.
        found: String,
        /// The set asked for.
        wanted: String,
    },
    /// Other settings of an architecture: these do not fit the model (a usage error).
    Setting(crate::nets::Refusal),
    /// No such setting for this experiment: leave it out (a usage error).
    NotTaken(crate::experiments::NotTaken),
}

impl Fix {
    /// Whether the caller's request was wrong (a usage error: a command exits 2, a server
    /// answers 400), as opposed to a property of a file or of the machine.
    pub fn is_usage(&self) -> bool {
        !matches!(self, Fix::InputShape | Fix::OtherCheckpointDir)
    }
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// An error that the caller can get past by giving what `fix` says.
    pub fn needs(msg: impl Into<String>, fix: Fix) -> Self {
        Error::Needs {
            msg: msg.into(),
            fix,
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
