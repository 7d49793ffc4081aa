//! MNIST and Fashion-MNIST by name: their published files and checksums, where they are
//! looked for, and loading a directory of the four standard IDX files.
//!
//! A named set is looked for in `--data DIR`, then `$BACKPROP_DATA/<name>/`, then the user
//! cache (`$XDG_CACHE_HOME/backprop/<name>/`, default `~/.cache/backprop/<name>/`), then, for
//! Fashion-MNIST, the Debian package's `/usr/share/datasets/fashion-mnist/`.

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::idx::{self, Idx};
use super::{Dataset, Split};
use crate::error::{Error, Fix, Result};

/// The four files of an IDX dataset, in the order train images, train labels, test images,
/// test labels. Each may be stored raw or with a `.gz` suffix.
pub const FILE_NAMES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// A published file: its name, and the length and sha256 of its uncompressed content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileSpec {
    /// The file name without `.gz`.
    pub name: &'static str,
    /// Uncompressed length in bytes.
    pub len: u64,
    /// sha256 of the uncompressed content, lowercase hex.
    pub sha256: &'static str,
}

/// The IDX datasets backprop knows by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Known {
    /// LeCun, Cortes and Burges' handwritten digits (CC BY-SA 3.0): 60,000 + 10,000 images
    /// of 28×28.
    Mnist,
    /// Zalando's Fashion-MNIST (MIT): ten kinds of clothing, same sizes as MNIST.
    FashionMnist,
}

impl Known {
    /// Every known set.
    pub const ALL: [Known; 2] = [Known::Mnist, Known::FashionMnist];

    /// The name used on the command line and in cache paths.
    pub fn name(self) -> &'static str {
        match self {
            Known::Mnist => "mnist",
            Known::FashionMnist => "fashion-mnist",
        }
    }

    /// The set called `name`, if any.
    pub fn from_name(name: &str) -> Option<Known> {
        Known::ALL.into_iter().find(|k| k.name() == name)
    }

    /// A name for each class, by label.
    pub fn class_names(self) -> Vec<String> {
        match self {
            Known::Mnist => (0..10).map(|d| d.to_string()).collect(),
            Known::FashionMnist => [
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ]
            .map(String::from)
            .to_vec(),
        }
    }

    /// The published files, in [`FILE_NAMES`] order.
    pub fn files(self) -> [FileSpec; 4] {
        let sha = match self {
            Known::Mnist => [
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            ],
            Known::FashionMnist => [
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            ],
        };
        let lens = [47_040_016, 60_008, 7_840_016, 10_008];
        std::array::from_fn(|i| FileSpec {
            name: FILE_NAMES[i],
            len: lens[i],
            sha256: sha[i],
        })
    }

    /// Base URLs that serve `<name>.gz` for each file, tried in order (the mirrors
    /// torchvision uses; the original MNIST site refuses downloads).
    pub fn mirrors(self) -> &'static [&'static str] {
        match self {
            Known::Mnist => &[
                "https://ossci-datasets.s3.amazonaws.com/mnist/",
                "https://storage.googleapis.com/cvdf-datasets/mnist/",
            ],
            Known::FashionMnist => &["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
        }
    }

    /// A system-wide copy installed by a distribution package, if there is one.
    pub fn system_dir(self) -> Option<PathBuf> {
        match self {
            Known::Mnist => None,
            Known::FashionMnist => Some(PathBuf::from("/usr/share/datasets/fashion-mnist")),
        }
    }

    /// The set whose published training labels have this sha256 (labels differ between the
    /// sets, and hashing them is cheap).
    fn by_train_labels_sha256(sha: &str) -> Option<Known> {
        Known::ALL.into_iter().find(|k| k.files()[1].sha256 == sha)
    }
}

impl fmt::Display for Known {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a dataset directory was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Given with `--data`.
    Explicit,
    /// `$BACKPROP_DATA/<name>/`.
    BackpropData,
    /// The user cache, `$XDG_CACHE_HOME/backprop/<name>/`.
    Cache,
    /// A distribution package's directory.
    System,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Explicit => "given directory",
            Source::BackpropData => "$BACKPROP_DATA",
            Source::Cache => "user cache",
            Source::System => "system package",
        })
    }
}

/// The user cache root, `$XDG_CACHE_HOME/backprop` or `~/.cache/backprop`.
pub fn user_cache_root() -> Option<PathBuf> {
    let non_empty = |v: std::ffi::OsString| (!v.is_empty()).then(|| PathBuf::from(v));
    std::env::var_os("XDG_CACHE_HOME")
        .and_then(non_empty)
        .or_else(|| {
            std::env::var_os("HOME")
                .and_then(non_empty)
                .map(|h| h.join(".cache"))
        })
        .map(|c| c.join("backprop"))
}

/// Where `fetch` and `import` put a set: `$BACKPROP_DATA/<name>/` when that variable is set,
/// else the user cache.
pub fn install_dir(known: Known) -> Result<PathBuf> {
    match std::env::var_os("BACKPROP_DATA").filter(|v| !v.is_empty()) {
        Some(root) => Ok(PathBuf::from(root).join(known.name())),
        None => user_cache_root()
            .map(|r| r.join(known.name()))
            .ok_or_else(|| {
                Error::Invalid(
                    "no cache directory: set BACKPROP_DATA, XDG_CACHE_HOME or HOME".into(),
                )
            }),
    }
}

/// The directories where `known` is looked for, in order (`explicit` is `--data DIR`).
pub fn search_dirs(known: Known, explicit: Option<&Path>) -> Vec<(Source, PathBuf)> {
    let mut dirs = Vec::new();
    if let Some(d) = explicit {
        dirs.push((Source::Explicit, d.to_path_buf()));
    }
    if let Some(root) = std::env::var_os("BACKPROP_DATA").filter(|v| !v.is_empty()) {
        dirs.push((Source::BackpropData, PathBuf::from(root).join(known.name())));
    }
    if let Some(root) = user_cache_root() {
        dirs.push((Source::Cache, root.join(known.name())));
    }
    if let Some(d) = known.system_dir() {
        dirs.push((Source::System, d));
    }
    dirs
}

/// The path of `name` in `dir`, raw or with `.gz` (raw first), if either exists.
pub fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(name), dir.join(format!("{name}.gz"))]
        .into_iter()
        .find(|p| p.is_file())
}

/// The four files in `dir`, or an error naming the first one missing.
pub fn find_files(dir: &Path) -> Result<[PathBuf; 4]> {
    let mut found = Vec::with_capacity(4);
    for name in FILE_NAMES {
        match find_file(dir, name) {
            Some(p) => found.push(p),
            None => return Err(missing_file_error(dir, name)),
        }
    }
    Ok(found.try_into().expect("four files"))
}

/// Why `name` (raw or `.gz`) was not found in `dir`: the directory's or the file's own error
/// when there is one that is not "not found" (a symbolic link loop, a path through a regular
/// file, no permission), else "no such file".
fn missing_file_error(dir: &Path, name: &str) -> Error {
    let candidates = [
        dir.to_path_buf(),
        dir.join(name),
        dir.join(format!("{name}.gz")),
    ];
    for path in candidates {
        if let Err(e) = std::fs::metadata(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            return Error::io(path, e);
        }
    }
    Error::io(
        dir.join(name),
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file (raw or .gz) in this directory",
        ),
    )
}

/// The first directory of [`search_dirs`] holding all four files, and where it came from.
/// An explicit `--data DIR` is used alone: if its files are missing, that is the error.
pub fn locate(known: Known, explicit: Option<&Path>) -> Result<(Source, PathBuf)> {
    if let Some(dir) = explicit {
        find_files(dir)?;
        return Ok((Source::Explicit, dir.to_path_buf()));
    }
    let dirs = search_dirs(known, None);
    if let Some(found) = dirs.iter().find(|(_, d)| find_files(d).is_ok()) {
        return Ok(found.clone());
    }
    let looked: Vec<String> = dirs.iter().map(|(_, d)| d.display().to_string()).collect();
    Err(Error::io(
        dirs.first().map(|(_, d)| d.clone()).unwrap_or_default(),
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!(
                "{known} not found (looked in {}); get it with `backprop data fetch {known}` or, \
                 from local files, `backprop data import {known} DIR`",
                looked.join(", ")
            ),
        ),
    ))
}

/// Loads a named set from where [`locate`] finds it. With `--data DIR`, refuses a directory
/// that holds the other known set.
pub fn load_known(known: Known, explicit: Option<&Path>) -> Result<Split> {
    let (_, dir) = locate(known, explicit)?;
    let (split, found) = load_dir(&dir, Some(known))?;
    match found {
        Some(other) if other != known => Err(Error::needs(
            format!("{} holds {other}, not {known}", dir.display()),
            Fix::Dataset {
                dir,
                found: other.to_string(),
                wanted: known.to_string(),
            },
        )),
        _ => Ok(split),
    }
}

/// Loads the four IDX files in `dir`. The set is recognised by the sha256 of its training
/// labels; `known` gives the class names when it is not (ten classes, "0".."9", otherwise).
/// Returns the split and the recognised set.
pub fn load_dir(dir: &Path, known: Option<Known>) -> Result<(Split, Option<Known>)> {
    let [train_x, train_t, test_x, test_t] = find_files(dir)?;
    let labels_train = idx::read_labels(&train_t, 256)?;
    let found = Known::by_train_labels_sha256(&sha256_hex(&[
        &labels_train.header()[..],
        &labels_train.data[..],
    ]));
    let (name, class_names) = match found.or(known) {
        Some(k) => (k.name().to_string(), k.class_names()),
        None => (
            dir.display().to_string(),
            (0..10).map(|d| d.to_string()).collect(),
        ),
    };
    let part = |images: &Path, labels: &Path, t: Option<Idx>| -> Result<Dataset> {
        let x = idx::read_images(images)?;
        let t = match t {
            Some(t) => t,
            None => idx::read_labels(labels, class_names.len())?,
        };
        idx::check_labels(&t.data, class_names.len(), labels)?;
        idx::check_pair(&x, &t, labels)?;
        let image_shape = [1, x.dims[1], x.dims[2]];
        // Batches read images scattered over the whole set: see prefer_huge_pages.
        crate::alloc::prefer_huge_pages(&x.data);
        Ok(Dataset {
            name: name.clone(),
            images: x.data,
            labels: t.data,
            image_shape,
            max_value: 255,
            class_names: class_names.clone(),
        })
    };
    let train = part(&train_x, &train_t, Some(labels_train))?;
    let test = part(&test_x, &test_t, None)?;
    if train.image_shape != test.image_shape {
        return Err(Error::format(
            &test_x,
            format!(
                "images of {}×{}, but the training images are {}×{}",
                test.image_shape[1],
                test.image_shape[2],
                train.image_shape[1],
                train.image_shape[2]
            ),
        ));
    }
    Ok((Split { train, test }, found))
}

/// Lowercase hex sha256 of the concatenated `parts`.
pub fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a stored file (raw or gzipped, by content) against `spec`: the length and sha256
/// of its uncompressed content.
pub fn verify_file(path: &Path, spec: &FileSpec) -> Result<()> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = BufReader::new(file);
    let mut sniff = [0u8; 2];
    let n = idx::read_full(&mut reader, &mut sniff).map_err(|e| Error::io(path, e))?;
    let head = &sniff[..n];
    let mut stream: Box<dyn Read> = if idx::is_gzip(head) {
        Box::new(flate2::read::MultiGzDecoder::new(head.chain(reader)))
    } else {
        Box::new(head.chain(reader))
    };
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut len = 0u64;
    loop {
        let k = match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Error::format(path, format!("unreadable content: {e}")));
            }
        };
        // Stop early on an oversized (or endless) stream: it cannot match.
        len += k as u64;
        if len > spec.len {
            return Err(Error::format(
                path,
                format!(
                    "holds more than the {} bytes of the published {}",
                    spec.len, spec.name
                ),
            ));
        }
        h.update(&buf[..k]);
    }
    if len != spec.len {
        return Err(Error::format(
            path,
            format!(
                "{len} bytes of content, the published {} has {}",
                spec.name, spec.len
            ),
        ));
    }
    let got = hex(&h.finalize());
    if got != spec.sha256 {
        return Err(Error::format(
            path,
            format!(
                "sha256 {got}, expected {} (the published {})",
                spec.sha256, spec.name
            ),
        ));
    }
    Ok(())
}

/// Verifies the four files of `known` in `dir` against the published checksums.
pub fn verify_dir(known: Known, dir: &Path) -> Result<()> {
    let paths = find_files(dir)?;
    for (path, spec) in paths.iter().zip(known.files()) {
        verify_file(path, &spec)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_classes_and_checksums_are_the_published_ones() {
        assert_eq!(Known::from_name("fashion-mnist"), Some(Known::FashionMnist));
        assert_eq!(Known::from_name("digits"), None);
        assert_eq!(Known::FashionMnist.class_names()[9], "Ankle boot");
        assert_eq!(Known::Mnist.class_names()[3], "3");
        for k in Known::ALL {
            assert_eq!(k.class_names().len(), 10);
            for f in k.files() {
                assert_eq!(f.sha256.len(), 64);
            }
        }
        // sha256 of "abc" (FIPS 180-2, appendix B.1)
        assert_eq!(
            sha256_hex(&[b"ab", b"c"]),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
