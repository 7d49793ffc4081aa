//! A model file of either kind backprop reads — its own `.safetensors` or one of the book's
//! parameter pickles — recognised by its content, and loaded.
//!
//! The first bytes alone cannot tell the two apart: a safetensors file starts with its header
//! length as 8 little-endian bytes, so a header of 0x380 bytes starts `80 03`, which is also
//! how a protocol-3 pickle starts (PROTO 3). So the kind is decided by parsing: a file is
//! safetensors when its 8-byte length `n` is followed by `n` bytes that parse as a JSON
//! object (a pickle's opcodes never do), and a pickle when it parses as a parameter pickle.

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::ArrayD;

use super::import::network_from_tensors_with;
use super::pickle::parse_pickle;
use super::safetensors::{self, LoadedModel};
use crate::error::{Error, Fix, Result};
use crate::float::Float;
use crate::float::Precision;

/// The two kinds of model file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A `.safetensors` file (a model written by `train --save` or `import`, or a checkpoint).
    Safetensors,
    /// A parameter pickle written by the book's Python code (protocols 2–5).
    Pickle,
}

/// A file's contents, parsed as far as deciding its kind needed.
enum Contents {
    Safetensors,
    Pickle(BTreeMap<String, ArrayD<f64>>),
}

/// Whether `bytes` is a safetensors file as far as its kind goes: an 8-byte little-endian
/// length `n`, then `n` bytes holding one JSON object (and white space). The memory used is
/// bounded by the file's size.
fn is_safetensors(bytes: &[u8]) -> bool {
    let Some((len, rest)) = bytes.split_first_chunk::<8>() else {
        return false;
    };
    let Some(header) = usize::try_from(u64::from_le_bytes(*len))
        .ok()
        .and_then(|n| rest.get(..n))
    else {
        return false;
    };
    matches!(
        serde_json::from_slice::<serde_json::Value>(header),
        Ok(serde_json::Value::Object(_))
    )
}

/// Whether `bytes` look like a pickle of protocol 0 or 1, which starts with no PROTO opcode:
/// an empty dict or list, or a MARK, first and the STOP opcode last.
fn looks_like_old_pickle(bytes: &[u8]) -> bool {
    matches!(bytes.first(), Some(b'(' | b'}' | b']')) && bytes.last() == Some(&b'.')
}

/// Decides what `bytes` hold; `path` names the file in errors.
fn sniff(bytes: &[u8], path: &Path) -> Result<Contents> {
    if is_safetensors(bytes) {
        return Ok(Contents::Safetensors);
    }
    let pickle_error = match parse_pickle(bytes) {
        Ok(tensors) => return Ok(Contents::Pickle(tensors)),
        Err(e) => e,
    };
    let as_pickle = format!("not a parameter pickle: {pickle_error}");
    if looks_like_old_pickle(bytes) {
        return Err(Error::format(path, as_pickle));
    }
    // Neither: say what is wrong with it as a safetensors file (and what it looks like),
    // and as a pickle too when it starts like one of protocols 2 to 5 — or like a
    // safetensors header of 0x?80 bytes.
    let as_safetensors = match safetensors::from_bytes::<f64>(bytes, path) {
        Err(Error::Format { msg, .. }) => msg,
        Err(e) => return Err(e),
        Ok(_) => unreachable!("a file that loads has a JSON header"),
    };
    Err(Error::format(
        path,
        match bytes {
            [0x80, 2..=5, ..] => format!("{as_safetensors}; {as_pickle}"),
            _ => as_safetensors,
        },
    ))
}

/// The kind of model file `bytes` hold (see the module's documentation for how it is
/// decided); an error naming `path` if neither.
pub fn kind(bytes: &[u8], path: &Path) -> Result<Kind> {
    Ok(match sniff(bytes, path)? {
        Contents::Safetensors => Kind::Safetensors,
        Contents::Pickle(_) => Kind::Pickle,
    })
}

/// The precision a model file is best computed in: [`Precision::F32`] when it stores `F32`
/// (or 16-bit `F16`, `BF16`) tensors; `F64` files and the book's pickles (float64 in NumPy) are computed in `F64`. The
/// one place that decides it, for every command that opens a model or a checkpoint.
///
/// A safetensors file is recognised from its header alone (the first `8 + n` bytes); any
/// other file is read whole to say what it is, or what is wrong with it.
pub fn precision(path: &Path) -> Result<Precision> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let size = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut len = [0u8; 8];
    if file.read_exact(&mut len).is_ok() {
        let n = u64::from_le_bytes(len);
        if n <= size.saturating_sub(8) && n <= MAX_HEADER {
            let mut header = vec![0u8; n as usize];
            file.read_exact(&mut header)
                .map_err(|e| Error::io(path, e))?;
            if let Ok(serde_json::Value::Object(entries)) = serde_json::from_slice(&header) {
                let f32 = entries.iter().any(|(name, t)| {
                    name != "__metadata__"
                        && matches!(t["dtype"].as_str(), Some("F32" | "F16" | "BF16"))
                });
                return Ok(if f32 { Precision::F32 } else { Precision::F64 });
            }
        }
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    kind(&bytes, path)?;
    Ok(Precision::F64)
}

/// The largest safetensors header [`precision`] reads on its own (the safetensors crate's
/// own limit is 100 MB).
const MAX_HEADER: u64 = 100_000_000;

/// Reads the model file at `path` in precision `F`: a safetensors model as it records
/// itself, a pickle as the architecture `arch` (required for pickles, ignored otherwise) for
/// the input shape `input_shape` if given, else inferred from its weights.
pub fn load<F: Float>(
    path: &Path,
    arch: Option<&crate::nets::Arch>,
    input_shape: Option<[usize; 3]>,
) -> Result<LoadedModel<F>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    match sniff(&bytes, path)? {
        Contents::Safetensors => safetensors::from_bytes(&bytes, path),
        Contents::Pickle(tensors) => {
            let Some(spec) = arch else {
                return Err(Error::needs(
                    format!(
                        "{} is a pickle, which does not record its architecture",
                        path.display()
                    ),
                    Fix::Arch,
                ));
            };
            let (net, info, warnings) =
                network_from_tensors_with(spec, &tensors, path, input_shape)?;
            Ok(LoadedModel {
                net,
                info,
                dtype: "F64".into(),
                warnings,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::safetensors::tests::{info, net, tmp_dir};
    use ::safetensors::tensor::{Dtype, TensorView};

    /// `bytes` (a safetensors file) with its header padded with spaces to exactly `n` bytes.
    fn with_header_len(bytes: &[u8], n: usize) -> Vec<u8> {
        let old = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let json = std::str::from_utf8(&bytes[8..8 + old]).unwrap().trim_end();
        assert!(json.len() <= n, "the header needs {} bytes", json.len());
        let mut out = (n as u64).to_le_bytes().to_vec();
        out.extend(json.as_bytes());
        out.resize(8 + n, b' ');
        out.extend(&bytes[8 + old..]);
        out
    }

    /// The smallest safetensors file: one F32 tensor of one value, no metadata.
    fn tiny() -> Vec<u8> {
        let x = [0u8; 4];
        let v = TensorView::new(Dtype::F32, vec![1], &x).unwrap();
        ::safetensors::serialize([("x", v)], None).unwrap()
    }

    #[test]
    fn every_header_length_from_0x80_to_0x1000_is_safetensors() {
        let p = Path::new("m.safetensors");
        let small = tiny();
        let model = safetensors::to_bytes(&mut net::<f32>(1), &info()).unwrap();
        let model_json = u64::from_le_bytes(model[..8].try_into().unwrap()) as usize;
        let mut models = 0;
        for n in 0x80..=0x1000 {
            let bytes = with_header_len(&small, n);
            assert_eq!(bytes[..8], (n as u64).to_le_bytes());
            assert_eq!(kind(&bytes, p).unwrap(), Kind::Safetensors, "header {n:#x}");
            if n >= model_json {
                // A whole model, loaded and with its precision recognised.
                let bytes = with_header_len(&model, n);
                assert_eq!(kind(&bytes, p).unwrap(), Kind::Safetensors, "header {n:#x}");
                assert!(safetensors::from_bytes::<f32>(&bytes, p).is_ok());
                models += 1;
            }
        }
        assert!(models > 0x400, "only {models} model headers were tried");
        // The colliding lengths start like pickles: `80 03` is PROTO 3.
        assert_eq!(with_header_len(&small, 0x380)[..2], [0x80, 0x03]);
        // Through a file: loaded as the F32 model it is.
        let dir = tmp_dir("model-file-0x380");
        let path = dir.join("m.safetensors");
        std::fs::write(&path, with_header_len(&model, 0x380)).unwrap();
        assert_eq!(precision(&path).unwrap(), Precision::F32);
        let m = load::<f32>(&path, None, None).unwrap();
        assert_eq!(m.dtype, "F32");
        assert_eq!(m.info, info());
    }

    #[test]
    fn pickles_are_pickles_and_other_files_are_neither() {
        let p = Path::new("p.pkl");
        // An empty dict in protocols 2 to 5.
        for proto in 2..=5u8 {
            let empty = [0x80, proto, b'}', b'.'];
            assert_eq!(kind(&empty, p).unwrap(), Kind::Pickle);
        }
        let e = kind(b"\x80\x03}(X\x01", p).unwrap_err().to_string();
        assert!(e.starts_with("p.pkl: not a safetensors file"), "{e}");
        assert!(e.contains("; not a parameter pickle: truncated"), "{e}");
        for (bytes, what) in [
            (&b"\x89PNG\r\n\x1a\n0000"[..], "a PNG image"),
            (b"\x1f\x8b\x08\x00", "a gzip file"),
            (b"", "not a safetensors file"),
        ] {
            let e = kind(bytes, p).unwrap_err().to_string();
            assert!(e.contains(what), "{e}");
        }
        // A header that is JSON but not an object is no safetensors file.
        let mut bytes = 2u64.to_le_bytes().to_vec();
        bytes.extend(b"[]");
        assert!(kind(&bytes, p).is_err());
    }

    #[test]
    fn protocol_0_and_1_pickles_are_named_as_unsupported() {
        // pickle.dumps({}, 0) and pickle.dumps({}, 1).
        for bytes in [&b"(dp0\n."[..], b"}q\x00."] {
            let e = kind(bytes, Path::new("old.pkl")).unwrap_err().to_string();
            assert!(
                e.contains("pickle protocols 0 and 1 are not supported (2 to 5 are)"),
                "{e}"
            );
        }
    }
}
