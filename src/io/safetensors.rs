//! The project's model file: a [safetensors](https://huggingface.co/docs/safetensors) file
//! holding every tensor of a [`Network`] under the book's names (`W1`, `b1`, …, `gamma1`,
//! `beta1`, and batch norm's `running_mean1`, `running_var1`), in the precision it was
//! trained in (`F32` or `F64`), plus string metadata that says how to rebuild the network:
//!
//! | key | value |
//! | --- | --- |
//! | `format` | `backprop-model` |
//! | `format_version` | `1` |
//! | `arch` | JSON of the [`Arch`] (`{"name": "two-layer", "hidden": 50, …}`) |
//! | `input_shape` | JSON `[C, H, W]` of one image |
//! | `class_names` | JSON list of strings |
//! | `dataset` | the dataset's name |
//! | `train_config` | JSON object of the training settings |
//!
//! Python reads it as it is: `safetensors.numpy.load_file("model.safetensors")`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use ndarray::ArrayD;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use super::{mismatch_error, set_tensors, tensor_problems, write_atomic};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::nets::{Arch, Network};
use crate::rng::Rng;

/// The value of the `format` metadata key.
pub const FORMAT: &str = "backprop-model";

/// Everything about a model besides its tensors.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelInfo {
    /// The architecture that rebuilds the network.
    pub arch: Arch,
    /// The shape of one input image, `[C, H, W]`.
    pub image_shape: [usize; 3],
    /// One name per output class.
    pub class_names: Vec<String>,
    /// The dataset it was trained on (`digits`, `mnist`, …; empty if unknown).
    pub dataset: String,
    /// The training settings (free-form JSON object; `{}` if unknown).
    pub train_config: serde_json::Value,
}

/// A model read from a file.
#[derive(Debug)]
pub struct LoadedModel<F: Float> {
    /// The network with the file's values.
    pub net: Network<F>,
    /// The metadata.
    pub info: ModelInfo,
    /// The tensors' dtype in the file (`F16`, `BF16`, `F32` or `F64`).
    pub dtype: String,
    /// Things worth telling the user that do not stop loading (non-finite weights).
    pub warnings: Vec<String>,
}

/// Tensors whose names start with this hold an optimizer's state (in checkpoints); model
/// loading skips them, so a checkpoint is also a model file.
pub const OPTIMIZER_PREFIX: &str = "optimizer.";

/// The precision of the tensors in a model file. Networks compute in `f32` or `f64`; a file
/// may also store their values rounded to 16 bits (half the size of `F32`), and any of the
/// four loads into a network of either precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TensorDtype {
    /// IEEE 754 binary16: 11 significant bits, range ±65504.
    F16,
    /// bfloat16: `f32`'s range with 8 significant bits.
    Bf16,
    /// IEEE 754 binary32.
    F32,
    /// IEEE 754 binary64.
    F64,
}

impl TensorDtype {
    /// `value` stored in this precision and read back as `f64`.
    pub fn round(self, value: f64) -> f64 {
        match self {
            TensorDtype::F16 => half::f16::from_f64(value).to_f64(),
            TensorDtype::Bf16 => half::bf16::from_f64(value).to_f64(),
            TensorDtype::F32 => value as f32 as f64,
            TensorDtype::F64 => value,
        }
    }

    /// The safetensors dtype.
    pub fn dtype(self) -> Dtype {
        match self {
            TensorDtype::F16 => Dtype::F16,
            TensorDtype::Bf16 => Dtype::BF16,
            TensorDtype::F32 => Dtype::F32,
            TensorDtype::F64 => Dtype::F64,
        }
    }

    /// Appends `v`, rounded to this dtype, as little-endian bytes.
    pub fn extend_le(self, bytes: &mut Vec<u8>, v: f64) {
        match self {
            TensorDtype::F16 => bytes.extend(half::f16::from_f64(v).to_le_bytes()),
            TensorDtype::Bf16 => bytes.extend(half::bf16::from_f64(v).to_le_bytes()),
            TensorDtype::F32 => bytes.extend((v as f32).to_le_bytes()),
            TensorDtype::F64 => bytes.extend(v.to_le_bytes()),
        }
    }

    /// The precision networks of type `F` compute in.
    pub fn of<F: Float>() -> Self {
        match F::DTYPE {
            "F32" => TensorDtype::F32,
            _ => TensorDtype::F64,
        }
    }
}

impl std::str::FromStr for TensorDtype {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "f16" => Ok(TensorDtype::F16),
            "bf16" => Ok(TensorDtype::Bf16),
            "f32" => Ok(TensorDtype::F32),
            "f64" => Ok(TensorDtype::F64),
            _ => Err(Error::Invalid(format!(
                "unknown precision {s:?}; expected f16, bf16, f32 or f64"
            ))),
        }
    }
}

/// Writes `net` and `info` to `path` atomically with every tensor stored as `dtype`
/// (rounded to nearest, ties to even, when it is narrower than the network's precision).
pub fn save_as<F: Float>(
    path: &Path,
    net: &mut Network<F>,
    info: &ModelInfo,
    dtype: TensorDtype,
) -> Result<()> {
    let bytes = to_bytes_in(net, info, &[], &[], dtype)?;
    write_atomic(path, &bytes)
}

/// Writes `net` and `info` to `path` atomically.
pub fn save<F: Float>(path: &Path, net: &mut Network<F>, info: &ModelInfo) -> Result<()> {
    let bytes = to_bytes(net, info)?;
    write_atomic(path, &bytes)
}

/// The bytes of the model file for `net` and `info`.
pub fn to_bytes<F: Float>(net: &mut Network<F>, info: &ModelInfo) -> Result<Vec<u8>> {
    to_bytes_with(net, info, &[], &[])
}

/// [`to_bytes`] with extra tensors and extra metadata entries (a checkpoint's optimizer
/// state and progress).
pub fn to_bytes_with<F: Float>(
    net: &mut Network<F>,
    info: &ModelInfo,
    extra_tensors: &[(String, ArrayD<F>)],
    extra_metadata: &[(String, String)],
) -> Result<Vec<u8>> {
    to_bytes_in(
        net,
        info,
        extra_tensors,
        extra_metadata,
        TensorDtype::of::<F>(),
    )
}

/// [`to_bytes_with`] storing every tensor as `stored`.
fn to_bytes_in<F: Float>(
    net: &mut Network<F>,
    info: &ModelInfo,
    extra_tensors: &[(String, ArrayD<F>)],
    extra_metadata: &[(String, String)],
    stored: TensorDtype,
) -> Result<Vec<u8>> {
    let dtype = stored.dtype();
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    let mut add = |name: &str, v: ndarray::ArrayViewD<'_, F>| {
        let mut bytes = Vec::with_capacity(v.len() * size_of::<F>());
        // Iteration is in logical (row-major) order whatever the memory layout.
        for &x in v.iter() {
            stored.extend_le(&mut bytes, x.to_f64_lossy());
        }
        tensors.push((name.to_string(), v.shape().to_vec(), bytes));
    };
    for p in net.params() {
        add(p.name, p.value.view());
    }
    for (name, v) in net.buffers() {
        add(&name, v.view());
    }
    for (name, v) in extra_tensors {
        add(name, v.view());
    }
    let views = tensors
        .iter()
        .map(|(name, shape, bytes)| {
            TensorView::new(dtype, shape.clone(), bytes)
                .map(|v| (name.as_str(), v))
                .map_err(|e| Error::Invalid(format!("tensor {name}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let metadata = HashMap::from([
        ("format".to_string(), FORMAT.to_string()),
        ("format_version".to_string(), "1".to_string()),
        ("arch".to_string(), info.arch.to_json().to_string()),
        (
            "input_shape".to_string(),
            serde_json::json!(info.image_shape).to_string(),
        ),
        (
            "class_names".to_string(),
            serde_json::json!(info.class_names).to_string(),
        ),
        ("dataset".to_string(), info.dataset.clone()),
        ("train_config".to_string(), info.train_config.to_string()),
    ]);
    let mut metadata = metadata;
    metadata.extend(extra_metadata.iter().cloned());
    let bytes = safetensors::serialize(views, Some(metadata))
        .map_err(|e| Error::Invalid(format!("cannot serialise the model: {e}")))?;
    Ok(with_sorted_metadata(bytes))
}

/// `bytes` with the `__metadata__` entries of the header in key order.
///
/// `safetensors::serialize` takes the metadata as a `HashMap` and writes it in that map's
/// order, which changes from one process to the next; sorted, the same model gives the same
/// bytes. The tensors' entries are already in a fixed order (by dtype, then name).
fn with_sorted_metadata(bytes: Vec<u8>) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let mut header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes[8..8 + n]).expect("safetensors wrote a JSON header");
    if let Some(serde_json::Value::Object(meta)) = header.get_mut("__metadata__") {
        meta.sort_keys();
    }
    let mut out = Vec::with_capacity(bytes.len());
    let json = serde_json::Value::Object(header).to_string();
    // The header is padded with spaces to a multiple of 8, as safetensors pads it.
    let len = json.len().next_multiple_of(8);
    out.extend((len as u64).to_le_bytes());
    out.extend(json.as_bytes());
    out.resize(8 + len, b' ');
    out.extend(&bytes[8 + n..]);
    out
}

/// Reads the model file at `path` into a network of precision `F` (the file's F32 or F64
/// values are converted if needed).
pub fn load<F: Float>(path: &Path) -> Result<LoadedModel<F>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    from_bytes(&bytes, path)
}

/// What a file that is not a model seems to be, from its first bytes, so that the error can
/// say "a PNG image" rather than only "header too large".
fn other_kind(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0x89, b'P', b'N', b'G', ..] => Some("a PNG image"),
        [0xFF, 0xD8, 0xFF, ..] => Some("a JPEG image"),
        [0x1F, 0x8B, ..] => Some("a gzip file"),
        [0x80, 2..=5, ..] | [b'(', ..] | [b'}', ..] => Some("a pickle"),
        [0, 0, 8, 1..=3, ..] => Some("an IDX data file"),
        _ => None,
    }
}

/// Parses the bytes of a model file; `path` names it in errors.
pub fn from_bytes<F: Float>(bytes: &[u8], path: &Path) -> Result<LoadedModel<F>> {
    let not_safetensors = |e: safetensors::SafeTensorError| {
        let kind = other_kind(bytes).map_or(String::new(), |k| format!(" (it looks like {k})"));
        Error::format(path, format!("not a safetensors file: {e}{kind}"))
    };
    let st = SafeTensors::deserialize(bytes).map_err(not_safetensors)?;
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(not_safetensors)?;
    let empty = HashMap::new();
    let meta = meta.metadata().as_ref().unwrap_or(&empty);
    let info = read_info(meta, path)?;
    // Before any tensor is read: the sizes the metadata declares are what the network and
    // its forward passes would allocate.
    info.arch
        .check_sizes(info.image_shape, info.class_names.len())
        .map_err(|e| Error::format(path, format!("the recorded architecture is refused: {e}")))?;

    let mut problems = Vec::new();
    let mut dtypes = Vec::new();
    let mut shapes = BTreeMap::new();
    let mut values = BTreeMap::new();
    for (name, view) in st.iter() {
        // A checkpoint also holds the optimizer's state; the model is the rest.
        if name.starts_with(OPTIMIZER_PREFIX) {
            continue;
        }
        shapes.insert(name.to_string(), view.shape().to_vec());
        let data = view.data();
        let v: Vec<f64> = match view.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64)
                .collect(),
            Dtype::F64 => data
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect(),
            Dtype::F16 => data
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f64())
                .collect(),
            Dtype::BF16 => data
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f64())
                .collect(),
            other => {
                problems.push(format!(
                    "tensor {name} has dtype {other}, only F16, BF16, F32 and F64 are supported"
                ));
                continue;
            }
        };
        dtypes.push(view.dtype());
        match ArrayD::from_shape_vec(view.shape(), v) {
            Ok(a) => {
                values.insert(name.to_string(), a);
            }
            Err(e) => problems.push(format!("tensor {name}: {e}")),
        }
    }
    // Checked against the architecture before building it: the network is then no larger
    // than the tensors the file holds.
    let classes = info.class_names.len();
    problems.extend(tensor_problems(
        &info.arch.tensor_shapes(info.image_shape, classes),
        &shapes,
    ));
    if !problems.is_empty() {
        return Err(mismatch_error(path, &problems));
    }
    let mut net: Network<F> = info
        .arch
        .build(info.image_shape, classes, &mut Rng::stream(0, "load"))
        .map_err(|e| Error::format(path, format!("cannot build the recorded architecture: {e}")))?;
    let warnings = set_tensors(&mut net, &values, path)?;
    let dtype = match dtypes.first() {
        Some(Dtype::F32) => "F32",
        Some(Dtype::F16) => "F16",
        Some(Dtype::BF16) => "BF16",
        _ => "F64",
    };
    Ok(LoadedModel {
        net,
        info,
        dtype: dtype.to_string(),
        warnings,
    })
}

/// Reads the [`ModelInfo`] from the `__metadata__` strings.
fn read_info(meta: &HashMap<String, String>, path: &Path) -> Result<ModelInfo> {
    let get = |key: &str| {
        meta.get(key).ok_or_else(|| {
            Error::format(
                path,
                format!("no {key:?} in the metadata: not a model file written by backprop"),
            )
        })
    };
    let json = |key: &str| -> Result<serde_json::Value> {
        serde_json::from_str(get(key)?)
            .map_err(|e| Error::format(path, format!("the metadata {key:?} is not JSON: {e}")))
    };
    if get("format")? != FORMAT {
        return Err(Error::format(
            path,
            format!("the metadata \"format\" is not {FORMAT:?}"),
        ));
    }
    if get("format_version")? != "1" {
        return Err(Error::format(
            path,
            format!(
                "model format version {} is newer than this program reads (1)",
                get("format_version")?
            ),
        ));
    }
    let arch = Arch::from_json(&json("arch")?)
        .map_err(|e| Error::format(path, format!("bad \"arch\" metadata: {e}")))?;
    let image_shape: [usize; 3] = json("input_shape")?
        .as_array()
        .filter(|a| a.len() == 3)
        .and_then(|a| {
            let d: Option<Vec<usize>> = a
                .iter()
                .map(|x| x.as_u64().and_then(|n| usize::try_from(n).ok()))
                .filter(|n| matches!(n, Some(1..=65536)))
                .collect();
            d.and_then(|d| d.try_into().ok())
        })
        .ok_or_else(|| {
            Error::format(
                path,
                "the metadata \"input_shape\" is not [C, H, W] of positive sizes up to 65536",
            )
        })?;
    let class_names: Vec<String> = json("class_names")?
        .as_array()
        .and_then(|a| a.iter().map(|x| x.as_str().map(String::from)).collect())
        .ok_or_else(|| {
            Error::format(
                path,
                "the metadata \"class_names\" is not a list of strings",
            )
        })?;
    Ok(ModelInfo {
        arch,
        image_shape,
        class_names,
        dataset: meta.get("dataset").cloned().unwrap_or_default(),
        train_config: meta
            .get("train_config")
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or(serde_json::json!({})),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::nets::TwoLayerNet;
    use ndarray::Array2;
    use std::path::PathBuf;

    pub(crate) fn info() -> ModelInfo {
        ModelInfo {
            arch: Arch::TwoLayer {
                hidden: 5,
                weight_init_std: 0.5,
            },
            image_shape: [1, 2, 3],
            class_names: vec!["a".into(), "b".into(), "c".into()],
            dataset: "toy".into(),
            train_config: serde_json::json!({"lr": 0.1, "seed": 7}),
        }
    }

    pub(crate) fn net<F: Float>(seed: u64) -> Network<F> {
        info()
            .arch
            .build([1, 2, 3], 3, &mut Rng::stream(seed, "init"))
            .unwrap()
    }

    fn input<F: Float>() -> ArrayD<F> {
        Array2::from_shape_fn((4, 6), |(i, j)| F::lit((i * 6 + j) as f64 / 10.0 - 1.0)).into_dyn()
    }

    /// A fresh directory under the system temp dir for one test.
    pub(crate) fn tmp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("backprop-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn round_trip_gives_the_same_predictions_and_metadata() {
        let dir = tmp_dir("st-round-trip");
        let path = dir.join("m.safetensors");
        let mut a = net::<f32>(1);
        save(&path, &mut a, &info()).unwrap();
        let mut b = load::<f32>(&path).unwrap();
        assert_eq!(b.info, info());
        assert_eq!(b.dtype, "F32");
        assert!(b.warnings.is_empty());
        assert_eq!(a.predict(input(), false), b.net.predict(input(), false));
        // f32 file into an f64 net: exact widening.
        let mut c = load::<f64>(&path).unwrap();
        let pa = a.predict(input(), false).mapv(|v| v as f64);
        let pc = c.net.predict(input(), false);
        assert!((pa - pc).iter().all(|d| d.abs() < 1e-6));
        // No temporary file left behind.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    }

    #[test]
    fn f64_model_keeps_its_precision() {
        let dir = tmp_dir("st-f64");
        let path = dir.join("m.safetensors");
        let mut a = net::<f64>(2);
        save(&path, &mut a, &info()).unwrap();
        let mut b = load::<f64>(&path).unwrap();
        assert_eq!(b.dtype, "F64");
        assert_eq!(a.predict(input(), false), b.net.predict(input(), false));
    }

    #[test]
    fn truncated_and_random_files_are_clear_errors() {
        let p = Path::new("bad.safetensors");
        let bytes = to_bytes(&mut net::<f32>(1), &info()).unwrap();
        for cut in [0, 4, 8, 20, bytes.len() / 2, bytes.len() - 1] {
            let e = from_bytes::<f32>(&bytes[..cut], p).unwrap_err().to_string();
            assert!(
                e.starts_with("bad.safetensors: not a safetensors file"),
                "{cut}: {e}"
            );
        }
        let mut rng = Rng::new(3);
        for _ in 0..50 {
            let junk: Vec<u8> = (0..rng.below(200)).map(|_| rng.below(256) as u8).collect();
            assert!(from_bytes::<f32>(&junk, p).is_err());
        }
    }

    /// A file with the given tensors (all F32) and our metadata.
    fn file_with(tensors: &[(&str, Vec<usize>)]) -> Vec<u8> {
        let typed: Vec<_> = tensors
            .iter()
            .map(|(n, s)| (*n, Dtype::F32, s.clone()))
            .collect();
        file_with_dtypes(&typed)
    }

    /// A file with the given tensors (zeros) and our metadata.
    fn file_with_dtypes(tensors: &[(&str, Dtype, Vec<usize>)]) -> Vec<u8> {
        let data: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = tensors
            .iter()
            .map(|(n, d, s)| {
                let bytes = d.bitsize() / 8 * s.iter().product::<usize>();
                (n.to_string(), *d, s.clone(), vec![0u8; bytes])
            })
            .collect();
        let views: Vec<(&str, TensorView<'_>)> = data
            .iter()
            .map(|(n, d, s, b)| (n.as_str(), TensorView::new(*d, s.clone(), b).unwrap()))
            .collect();
        let good = to_bytes(&mut net::<f32>(1), &info()).unwrap();
        let (_, meta) = SafeTensors::read_metadata(&good).unwrap();
        safetensors::serialize(views, meta.metadata().clone()).unwrap()
    }

    #[test]
    fn wrong_missing_and_unexpected_tensors_are_each_listed() {
        let bytes = file_with(&[
            ("W1", vec![6, 5]),
            ("b1", vec![4]),
            ("W2", vec![5, 3]),
            ("gamma1", vec![5]),
        ]);
        let e = from_bytes::<f32>(&bytes, Path::new("m.safetensors"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("m.safetensors: the tensors do not fit"),
            "{e}"
        );
        assert!(
            e.contains("tensor b1 has shape [4], the architecture needs [5]"),
            "{e}"
        );
        assert!(e.contains("missing tensor b2 (expected shape [3])"), "{e}");
        assert!(e.contains("unexpected tensor gamma1"), "{e}");
        assert!(!e.contains("tensor W1"), "{e}");
        let ok = file_with(&[
            ("W1", vec![6, 5]),
            ("b1", vec![5]),
            ("W2", vec![5, 3]),
            ("b2", vec![3]),
        ]);
        assert!(from_bytes::<f32>(&ok, Path::new("m")).is_ok());
    }

    #[test]
    fn dtypes_other_than_f32_and_f64_are_listed_and_the_two_mix() {
        let bytes = file_with_dtypes(&[
            ("W1", Dtype::F64, vec![6, 5]),
            ("b1", Dtype::I32, vec![5]),
            ("W2", Dtype::I64, vec![5, 3]),
            ("b2", Dtype::F32, vec![3]),
        ]);
        let e = from_bytes::<f32>(&bytes, Path::new("m.safetensors"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("tensor b1 has dtype I32, only F16, BF16, F32 and F64"),
            "{e}"
        );
        assert!(e.contains("tensor W2 has dtype I64"), "{e}");
        assert!(!e.contains("W1") && !e.contains("b2"), "{e}");
        let mixed = file_with_dtypes(&[
            ("W1", Dtype::F64, vec![6, 5]),
            ("b1", Dtype::F32, vec![5]),
            ("W2", Dtype::F64, vec![5, 3]),
            ("b2", Dtype::F32, vec![3]),
        ]);
        assert!(from_bytes::<f32>(&mixed, Path::new("m")).is_ok());
    }

    /// A model saved with 16-bit tensors holds each value rounded to 16 bits (checked against
    /// the bit patterns: f16 keeps 11 significant bits, bf16 8) and loads into f32 and f64.
    #[test]
    fn sixteen_bit_tensors_round_trip_into_either_precision() {
        let dir = tmp_dir("sixteen");
        let mut a = net::<f64>(3);
        a.params()[0].value[[0, 0]] = 1.0 + 1.0 / 1024.0 + 1.0 / 4096.0;
        let want: Vec<f64> = a.params()[0].value.iter().copied().collect();
        for (dtype, name, bits) in [
            (TensorDtype::F16, "F16", 11),
            (TensorDtype::Bf16, "BF16", 8),
        ] {
            let path = dir.join(format!("{name}.safetensors"));
            save_as(&path, &mut a, &info(), dtype).unwrap();
            let bytes = std::fs::read(&path).unwrap();
            let st = SafeTensors::deserialize(&bytes).unwrap();
            assert_eq!(st.tensor("W1").unwrap().dtype().to_string(), name);
            let mut b = load::<f32>(&path).unwrap();
            let mut c = load::<f64>(&path).unwrap();
            assert_eq!(b.dtype, name);
            for (k, (&w, &got)) in want.iter().zip(c.net.params()[0].value.iter()).enumerate() {
                // Round to `bits` significant bits by hand: scale to an integer mantissa.
                let e = w.abs().log2().floor() as i32 - (bits - 1);
                let m = w / 2f64.powi(e);
                let r = if (m - m.trunc()).abs() == 0.5 {
                    // ties to even
                    if m.trunc() % 2.0 == 0.0 {
                        m.trunc()
                    } else {
                        m.trunc() + m.signum()
                    }
                } else {
                    m.round()
                };
                let hand = r * 2f64.powi(e);
                assert_eq!(got, hand, "{name} W1[{k}]: {w}");
                assert_eq!(got, dtype.round(w));
            }
            // The first value sits between two f16 values: 1 + 2⁻¹⁰ + 2⁻¹² rounds down to
            // 1 + 2⁻¹⁰ in f16 and to 1 in bf16.
            let first = c.net.params()[0].value[[0, 0]];
            let expect = if bits == 11 { 1.0 + 1.0 / 1024.0 } else { 1.0 };
            assert_eq!(first, expect);
            assert_eq!(b.net.params()[0].value[[0, 0]] as f64, expect);
        }
        assert_eq!("bf16".parse::<TensorDtype>().unwrap(), TensorDtype::Bf16);
        assert!("f8".parse::<TensorDtype>().is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn non_finite_weights_are_a_warning() {
        let mut a = net::<f32>(1);
        a.params()[0].value[[0, 0]] = f32::NAN;
        a.params()[3].value[[1]] = f32::INFINITY;
        let bytes = to_bytes(&mut a, &info()).unwrap();
        let b = from_bytes::<f32>(&bytes, Path::new("m.safetensors")).unwrap();
        assert_eq!(b.warnings.len(), 2, "{:?}", b.warnings);
        assert!(
            b.warnings[0].contains("W1 has 1 non-finite"),
            "{:?}",
            b.warnings
        );
        assert!(
            b.warnings[1].contains("b2 has 1 non-finite"),
            "{:?}",
            b.warnings
        );
    }

    #[test]
    fn a_plain_safetensors_file_is_not_a_model() {
        let x = [0u8; 8];
        let v = TensorView::new(Dtype::F32, vec![2], &x).unwrap();
        let bytes = safetensors::serialize([("W1", v)], None).unwrap();
        let e = from_bytes::<f32>(&bytes, Path::new("p.safetensors"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no \"format\" in the metadata"), "{e}");
    }

    /// Python's own safetensors library reads the file as it is and gets the same values.
    #[test]
    fn python_safetensors_reads_the_file() {
        let ok = std::process::Command::new("python3")
            .args(["-c", "import safetensors.numpy, numpy"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !ok {
            // CI sets BACKPROP_REQUIRE_PYTHON=1 so that a missing library fails, not skips.
            assert!(
                std::env::var("BACKPROP_REQUIRE_PYTHON").as_deref() != Ok("1"),
                "BACKPROP_REQUIRE_PYTHON=1 but `python3 -c \"import safetensors.numpy, numpy\"` fails"
            );
            eprintln!("note: skipped: python3 with safetensors and numpy is not available");
            return;
        }
        let dir = tmp_dir("st-python");
        let path = dir.join("m.safetensors");
        let mut a = TwoLayerNet::<f64>::new(6, 5, 3, 0.5, &mut Rng::new(9)).into_inner();
        save(&path, &mut a, &info()).unwrap();
        let script = "import sys, json, struct\n\
            from safetensors.numpy import load_file\n\
            from safetensors import safe_open\n\
            t = load_file(sys.argv[1])\n\
            with safe_open(sys.argv[1], 'np') as f: meta = f.metadata()\n\
            out = {k: [str(v.dtype), list(v.shape), [struct.pack('>d', float(x)).hex() for x in v.ravel()]] for k, v in t.items()}\n\
            print(json.dumps({'tensors': out, 'meta': meta}))\n";
        let o = std::process::Command::new("python3")
            .args(["-c", script])
            .arg(&path)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(j["meta"]["format"], FORMAT);
        assert_eq!(j["meta"]["dataset"], "toy");
        let arch: serde_json::Value =
            serde_json::from_str(j["meta"]["arch"].as_str().unwrap()).unwrap();
        assert_eq!(Arch::from_json(&arch).unwrap(), info().arch);
        let tensors = j["tensors"].as_object().unwrap();
        assert_eq!(tensors.len(), 4);
        for p in a.params() {
            let t = &tensors[p.name];
            assert_eq!(t[0], "float64");
            assert_eq!(t[1], serde_json::json!(p.value.shape()));
            let bits: Vec<String> = p
                .value
                .iter()
                .map(|v| format!("{:016x}", v.to_bits()))
                .collect();
            assert_eq!(t[2], serde_json::json!(bits), "{}", p.name);
        }
    }
}
