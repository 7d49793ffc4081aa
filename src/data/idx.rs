//! The IDX file format of MNIST and Fashion-MNIST, raw or gzipped.
//!
//! Big-endian: two zero bytes, a type byte (`0x08` = unsigned byte), a dimension count, one
//! `u32` per dimension, then the data in row-major order. Images have magic `0x00000803`
//! (`N × rows × cols`), labels `0x00000801` (`N`).
//!
//! Reading never trusts the header: the declared size is checked against the file's length
//! (or, for gzip, bounded by what the compressed length can hold) before anything is
//! allocated, and the decompressed read stops one byte past the declared size, so a gzip bomb
//! or an absurd header costs no memory. Gzip is recognised by its magic bytes `1f 8b`, not by
//! the file name.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use crate::error::{Error, Result};

/// The only element type supported: unsigned bytes.
pub const TYPE_U8: u8 = 0x08;
/// Magic number of an image file (`u8`, three dimensions).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of a label file (`u8`, one dimension).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// Deflate expands at most about 1032:1; a gzip file declaring more than this many bytes per
/// compressed byte is corrupt, and is refused before any allocation.
const MAX_GZIP_RATIO: u64 = 1100;

/// The contents of one IDX file of unsigned bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Idx {
    /// The dimensions from the header, e.g. `[60000, 28, 28]`.
    pub dims: Vec<usize>,
    /// `dims.iter().product()` bytes, row-major.
    pub data: Vec<u8>,
}

impl Idx {
    /// The magic number this array would be written with: `0x0000_08NN`, NN = dimensions.
    pub fn magic(&self) -> u32 {
        (u32::from(TYPE_U8) << 8) | self.dims.len() as u32
    }

    /// The header bytes of the file this array came from (magic, then each dimension).
    pub fn header(&self) -> Vec<u8> {
        let mut h = self.magic().to_be_bytes().to_vec();
        for &d in &self.dims {
            h.extend_from_slice(&(d as u32).to_be_bytes());
        }
        h
    }
}

/// Whether `bytes` start with the gzip magic `1f 8b`.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Reads an IDX file, raw or gzipped (by content), from `path`.
pub fn read_idx(path: &Path) -> Result<Idx> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut reader = BufReader::new(file);
    let mut sniff = [0u8; 2];
    let n = read_full(&mut reader, &mut sniff).map_err(|e| Error::io(path, e))?;
    let stream = (&sniff[..n]).chain(reader);
    decode(stream, len, is_gzip(&sniff[..n]), path)
}

/// Parses an IDX file held in memory, raw or gzipped (by content); `origin` names it in errors.
pub fn parse_idx(bytes: &[u8], origin: &Path) -> Result<Idx> {
    decode(bytes, bytes.len() as u64, is_gzip(bytes), origin)
}

/// Reads an image file: magic `0x00000803`, dimensions `N × rows × cols`.
pub fn read_images(path: &Path) -> Result<Idx> {
    expect_magic(read_idx(path)?, IMAGES_MAGIC, "an image file", path)
}

/// Reads a label file: magic `0x00000801`, dimension `N`; every label must be below
/// `num_classes`.
pub fn read_labels(path: &Path, num_classes: usize) -> Result<Idx> {
    let idx = expect_magic(read_idx(path)?, LABELS_MAGIC, "a label file", path)?;
    check_labels(&idx.data, num_classes, path)?;
    Ok(idx)
}

/// Checks that every label is below `num_classes`, naming the first one that is not.
pub fn check_labels(labels: &[u8], num_classes: usize, path: &Path) -> Result<()> {
    match labels.iter().position(|&l| l as usize >= num_classes) {
        Some(i) => Err(Error::format(
            path,
            format!(
                "label {} at index {i} is not below the number of classes ({num_classes})",
                labels[i]
            ),
        )),
        None => Ok(()),
    }
}

/// Checks that an image file and a label file describe the same number of samples.
pub fn check_pair(images: &Idx, labels: &Idx, labels_path: &Path) -> Result<()> {
    if images.dims[0] != labels.dims[0] {
        return Err(Error::format(
            labels_path,
            format!(
                "{} labels, but the image file holds {} images",
                labels.dims[0], images.dims[0]
            ),
        ));
    }
    Ok(())
}

fn expect_magic(idx: Idx, magic: u32, what: &str, path: &Path) -> Result<Idx> {
    if idx.magic() != magic {
        return Err(Error::format(
            path,
            format!(
                "magic number {:#010x}, expected {magic:#010x} for {what}",
                idx.magic()
            ),
        ));
    }
    Ok(idx)
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
pub(crate) fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Decodes an IDX stream. `stored_len` is the length of the file as stored (compressed, for
/// gzip); it bounds what the header may declare.
fn decode(stream: impl Read, stored_len: u64, gzip: bool, path: &Path) -> Result<Idx> {
    let bad = |msg: String| Error::format(path, msg);
    let mut stream: Box<dyn Read> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(stream))
    } else {
        Box::new(stream)
    };
    let what = if gzip { "decompressed data" } else { "file" };
    // A gzip error surfaces as an I/O error while reading (invalid data, unexpected end);
    // unless the operating system raised it, it is a format problem of the file.
    let read_err = |e: std::io::Error| {
        if gzip && e.raw_os_error().is_none() {
            Error::format(path, format!("corrupt gzip data: {e}"))
        } else {
            Error::io(path, e)
        }
    };

    let mut magic = [0u8; 4];
    let n = read_full(&mut stream, &mut magic).map_err(read_err)?;
    if n < 4 {
        return Err(bad(format!(
            "too short: the {what} has {n} bytes, an IDX header needs at least 4"
        )));
    }
    if magic[0] != 0 || magic[1] != 0 {
        return Err(bad(format!(
            "not an IDX file: magic number {:#010x} does not start with two zero bytes",
            u32::from_be_bytes(magic)
        )));
    }
    if magic[2] != TYPE_U8 {
        return Err(bad(format!(
            "type byte {:#04x}, only {TYPE_U8:#04x} (unsigned byte) is supported",
            magic[2]
        )));
    }
    let ndims = magic[3] as usize;
    if ndims == 0 {
        return Err(bad("the header declares zero dimensions".into()));
    }
    let header_len = 4 + 4 * ndims;
    let mut raw_dims = vec![0u8; 4 * ndims];
    let n = read_full(&mut stream, &mut raw_dims).map_err(read_err)?;
    if n < raw_dims.len() {
        return Err(bad(format!(
            "too short: the {what} ends inside the header ({} bytes, {ndims} dimensions need {header_len})",
            4 + n
        )));
    }
    let dims: Vec<usize> = raw_dims
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let shape = dims
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("×");
    let declared = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .ok_or_else(|| bad(format!("dimensions {shape} overflow")))?;

    // Check the declared size against what the file can hold before allocating anything.
    if gzip {
        let most = stored_len.saturating_mul(MAX_GZIP_RATIO);
        if declared > most {
            return Err(bad(format!(
                "the header declares {shape} = {declared} bytes, more than a {stored_len}-byte \
                 gzip file can hold"
            )));
        }
    } else {
        let body = stored_len.saturating_sub(header_len as u64);
        if body < declared {
            return Err(bad(format!(
                "too short: the header declares {shape} = {declared} bytes, the file holds {body} \
                 after the header"
            )));
        }
        if body > declared {
            return Err(bad(format!(
                "{} trailing bytes after the {shape} = {declared} bytes the header declares",
                body - declared
            )));
        }
    }
    let declared = usize::try_from(declared)
        .map_err(|_| bad(format!("dimensions {shape} are too large for this machine")))?;

    let mut data = Vec::new();
    data.try_reserve_exact(declared.saturating_add(1))
        .map_err(|_| bad(format!("cannot allocate {declared} bytes for {shape}")))?;
    // One byte past the declared size tells "exact" from "trailing bytes" without reading more.
    stream
        .take(declared as u64 + 1)
        .read_to_end(&mut data)
        .map_err(read_err)?;
    if data.len() < declared {
        return Err(bad(format!(
            "too short: the header declares {shape} = {declared} bytes, the {what} holds {} after \
             the header",
            data.len()
        )));
    }
    if data.len() > declared {
        return Err(bad(format!(
            "trailing bytes after the {shape} = {declared} bytes the header declares"
        )));
    }
    Ok(Idx { dims, data })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn idx_bytes(dims: &[u32], body: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(body);
        v
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn err(bytes: &[u8]) -> String {
        parse_idx(bytes, Path::new("f.idx"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn raw_and_gzip_decode_to_the_same_array() {
        let body: Vec<u8> = (0..24).collect();
        let raw = idx_bytes(&[2, 3, 4], &body);
        let a = parse_idx(&raw, Path::new("a")).unwrap();
        let b = parse_idx(&gz(&raw), Path::new("b")).unwrap();
        assert_eq!(a.dims, [2, 3, 4]);
        assert_eq!(a.data, body);
        assert_eq!(a, b);
        assert_eq!(a.magic(), IMAGES_MAGIC);
        // the header is reconstructed byte for byte (checksums of the file rely on it)
        assert_eq!([a.header(), a.data].concat(), raw);
    }

    #[test]
    fn every_corruption_is_named() {
        let good = idx_bytes(&[3], &[1, 2, 3]);
        assert!(err(&good[..2]).contains("too short"), "{}", err(&good[..2]));
        assert!(err(&good[..6]).contains("inside the header"));
        assert!(err(&good[..10]).contains("too short: the header declares 3"));
        assert!(err(&[&good[..], &[9]].concat()).contains("1 trailing bytes"));
        assert!(err(&good[..2]).starts_with("f.idx: too short"));
        // zero-sized dimensions are well formed: an empty array
        assert!(parse_idx(&idx_bytes(&[3, 0], &[]), Path::new("e")).is_ok());
        let mut m = good.clone();
        m[1] = 1;
        assert!(err(&m).contains("two zero bytes"));
        let mut t = good.clone();
        t[2] = 0x0d;
        assert!(err(&t).contains("type byte 0x0d"), "{}", err(&t));
        let mut z = good.clone();
        z[3] = 0;
        assert!(err(&z[..4]).contains("zero dimensions"));
        // a huge declared size is refused before allocation
        assert!(err(&idx_bytes(&[u32::MAX, u32::MAX], &[])).contains("too short"));
        assert!(err(&idx_bytes(&[u32::MAX, u32::MAX, u32::MAX], &[])).contains("overflow"));
        // the same problems inside gzip
        let g = err(&gz(&good[..10]));
        assert!(g.contains("decompressed data holds 2"), "{g}");
        assert!(err(&gz(&[&good[..], &[9, 9]].concat())).contains("trailing"));
        let bomb = gz(&idx_bytes(&[u32::MAX, u32::MAX], &[]));
        assert!(err(&bomb).contains("gzip file can hold"), "{}", err(&bomb));
        let mut broken = gz(&good);
        let k = broken.len() - 3;
        broken[k] ^= 0xff; // the CRC/length trailer
        assert!(err(&broken).contains("gzip"), "{}", err(&broken));
        assert!(err(&gz(&good)[..12]).contains("f.idx"));
        // bytes after the gzip member are not silently ignored
        let g = err(&[gz(&good), b"junk".to_vec()].concat());
        assert!(g.contains("corrupt gzip data"), "{g}");
        // while a file of two gzip members (as `cat a.gz b.gz` makes) is one stream
        let (a, b) = good.split_at(6);
        assert_eq!(
            parse_idx(&[gz(a), gz(b)].concat(), Path::new("m"))
                .unwrap()
                .data,
            [1, 2, 3]
        );
    }

    #[test]
    fn magic_labels_and_pairs_are_checked() {
        let dir = std::env::temp_dir().join(format!("backprop-idx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let img = dir.join("img");
        let lab = dir.join("lab");
        std::fs::write(&img, idx_bytes(&[2, 1, 2], &[0, 255, 7, 8])).unwrap();
        std::fs::write(&lab, gz(&idx_bytes(&[3], &[1, 9, 0]))).unwrap();
        assert_eq!(read_images(&img).unwrap().dims, [2, 1, 2]);
        let l = read_labels(&lab, 10).unwrap();
        let e = check_pair(&read_images(&img).unwrap(), &l, &lab).unwrap_err();
        assert!(
            e.to_string()
                .contains("3 labels, but the image file holds 2")
        );
        let e = read_labels(&lab, 9).unwrap_err().to_string();
        assert!(e.contains("label 9 at index 1"), "{e}");
        let e = read_labels(&img, 10).unwrap_err().to_string();
        assert!(e.contains("0x00000803, expected 0x00000801"), "{e}");
        let e = read_images(&lab).unwrap_err().to_string();
        assert!(e.contains(&lab.display().to_string()), "{e}");
        let e = read_idx(&dir.join("missing")).unwrap_err();
        assert!(matches!(e, Error::Io { .. }));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// An IDX reader written from the format's description alone (LeCun et al.), sharing no
    /// code with `decode`: gunzip if the bytes start with `1f 8b`; then `0 0 8 n` with n > 0,
    /// n big-endian `u32` dimensions, and exactly their product in data bytes. `None` for
    /// anything else.
    fn read_by_hand(bytes: &[u8]) -> Option<Idx> {
        let mut unzipped = Vec::new();
        let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
            flate2::read::MultiGzDecoder::new(bytes)
                .take(1 << 26)
                .read_to_end(&mut unzipped)
                .ok()?;
            &unzipped[..]
        } else {
            bytes
        };
        let (&[0, 0, 8, n], rest) = bytes.split_first_chunk::<4>()? else {
            return None;
        };
        let n = usize::from(n);
        if n == 0 || rest.len() < 4 * n {
            return None;
        }
        let (header, data) = rest.split_at(4 * n);
        let dims: Vec<usize> = header
            .chunks_exact(4)
            .map(|c| {
                (usize::from(c[0]) << 24)
                    | (usize::from(c[1]) << 16)
                    | (usize::from(c[2]) << 8)
                    | usize::from(c[3])
            })
            .collect();
        let size = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d))?;
        (data.len() == size).then(|| Idx {
            dims,
            data: data.to_vec(),
        })
    }

    /// Replays the fuzzer's corpus (seeds and whatever it found): none may panic, reading a
    /// file agrees with parsing its bytes in memory, and both agree with [`read_by_hand`]
    /// on which files are valid and what they hold, raw and gzipped.
    #[test]
    fn fuzz_corpus_never_panics() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/idx");
        let (mut n, mut valid) = (0, 0);
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let in_memory = parse_idx(&bytes, &path);
            let from_file = read_idx(&path);
            assert_eq!(
                in_memory.as_ref().map_err(|e| e.to_string()),
                from_file.as_ref().map_err(|e| e.to_string()),
                "{}",
                path.display()
            );
            assert_eq!(
                in_memory.as_ref().ok(),
                read_by_hand(&bytes).as_ref(),
                "{}",
                path.display()
            );
            // The same bytes gzipped, which takes decode's other branch.
            let zipped = gz(&bytes);
            assert_eq!(
                parse_idx(&zipped, &path).ok(),
                read_by_hand(&zipped),
                "{} gzipped",
                path.display()
            );
            valid += usize::from(in_memory.is_ok());
            n += 1;
        }
        assert!(n >= 5, "the seed corpus is in {}", dir.display());
        assert!(valid >= 2, "only {valid} valid files in the corpus");
    }
}
