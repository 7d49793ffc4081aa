//! Image codecs: PNG, JPEG or PGM of any size decoded to 8-bit grey (bounded in size), and
//! PNG encoding for the pictures the crate draws. Turning a decoded image into the kind of
//! input the book's networks were trained on is [`crate::predict::prepare`]'s job.

use std::path::Path;

use crate::error::{Error, Result};

/// Reads an image file (PNG, JPEG or PGM, detected by content) as 8-bit grey.
pub fn read_gray(path: &Path) -> Result<(Vec<u8>, u32, u32)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode_gray(&bytes).map_err(|e| match e {
        DecodeError::NotAnImage => Error::format(path, e.to_string()),
        DecodeError::Bad(msg) => Error::format(path, format!("cannot decode the image: {msg}")),
    })
}

/// Why [`decode_gray`] failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes start with none of the PNG, JPEG or PGM signatures.
    NotAnImage,
    /// The format was recognised but the file is truncated, malformed or unsupported.
    Bad(String),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::NotAnImage => f.write_str("not a PNG, JPEG or PGM image"),
            DecodeError::Bad(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for DecodeError {}

/// The most bytes a decoded image may take (as the `image` crate's default limit).
const MAX_DECODED_BYTES: usize = 512 << 20;

/// The most pixels an image may have (8192 × 8192): enough for any camera, and at most
/// 512 MiB (the `image` crate's default limit) for its decoded samples (8 bytes per pixel: RGBA
/// at 16 bits).
/// Everything else `predict` keeps per image is a byte per pixel (the grey image), so
/// reading and preparing one image takes at most 576 MiB beyond the file.
pub const MAX_PIXELS: usize = 64 << 20;

/// Decodes a PNG, JPEG or PGM image held in memory (detected by its first bytes) to 8-bit
/// grey, returning `(pixels, width, height)` with the pixels row-major.
///
/// Colour becomes grey with the Rec. 709 luma weights (≈ `0.2126 R + 0.7152 G + 0.0722 B`),
/// alpha is ignored and 16-bit samples are rounded to 8 bits, as the `image` crate's
/// `to_luma8` does.
pub fn decode_gray(bytes: &[u8]) -> std::result::Result<(Vec<u8>, u32, u32), DecodeError> {
    if bytes.starts_with(b"\x89PNG") {
        decode_png(bytes)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        decode_jpeg(bytes)
    } else if bytes.starts_with(b"P5") || bytes.starts_with(b"P2") {
        decode_pgm(bytes)
    } else {
        Err(DecodeError::NotAnImage)
    }
}

/// Encodes 8-bit pixels (`Grayscale`, `Rgb`, … as `color` says) as a PNG file's bytes.
pub fn encode_png(
    pixels: &[u8],
    width: u32,
    height: u32,
    color: png::ColorType,
) -> std::result::Result<Vec<u8>, png::EncodingError> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(color);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .and_then(|mut writer| writer.write_image_data(pixels))?;
    Ok(bytes)
}

fn bad(msg: impl Into<String>) -> DecodeError {
    DecodeError::Bad(msg.into())
}

/// The luma weights of `image`'s `to_luma8` for sRGB: the Y row of the Rec. 709 primaries'
/// RGB → XYZ matrix (D65) as `moxcms` 0.7 derives it, in `f32` — Rec. 709's 0.2126, 0.7152
/// and 0.0722 to four places, and bit for bit what `image` 0.25 used (checked on all 2²⁴
/// 8-bit colours), so predictions do not change.
const LUMA: [f32; 3] = [0.21264784, 0.7151792, 0.07217304];

/// `image`'s RGB → grey: each channel scaled to `[0, 1]` in `f32`, weighted, summed and
/// rounded back to 8 bits (saturating).
fn luma(r: f32, g: f32, b: f32) -> u8 {
    let mut y = 0.0f32;
    for (c, k) in [r, g, b].into_iter().zip(LUMA) {
        y += c * k;
    }
    (y * 255.0).round() as u8
}

/// 16 → 8 bits with rounding: `round(v · 255 / 65535)`.
fn to8(v: u16) -> u8 {
    ((u32::from(v) + 128) / 257) as u8
}

/// Interleaved 8-bit samples with `channels` per pixel (1 grey, 2 grey+alpha, 3 RGB,
/// 4 RGBA) to grey; grey samples are returned as they are, not copied.
fn gray_from8(samples: Vec<u8>, channels: usize) -> Vec<u8> {
    const R: f32 = 1.0 / 255.0;
    match channels {
        1 => samples,
        2 => samples.chunks_exact(2).map(|p| p[0]).collect(),
        _ => samples
            .chunks_exact(channels)
            .map(|p| luma(p[0] as f32 * R, p[1] as f32 * R, p[2] as f32 * R))
            .collect(),
    }
}

/// [`gray_from8`] for big-endian 16-bit samples.
fn gray_from16(bytes: &[u8], channels: usize) -> Vec<u8> {
    const R: f32 = 1.0 / 65535.0;
    let at = |p: &[u8], i: usize| u16::from_be_bytes([p[2 * i], p[2 * i + 1]]);
    let pixels = bytes.chunks_exact(2 * channels);
    match channels {
        1 | 2 => pixels.map(|p| to8(at(p, 0))).collect(),
        _ => pixels
            .map(|p| {
                let [r, g, b] = [0, 1, 2].map(|i| at(p, i) as f32 * R);
                luma(r, g, b)
            })
            .collect(),
    }
}

/// Refuses an image of more than [`MAX_PIXELS`] pixels, or whose samples at
/// `bytes_per_pixel` would take more than [`MAX_DECODED_BYTES`], before anything is decoded.
fn check_size(
    width: u32,
    height: u32,
    bytes_per_pixel: usize,
) -> std::result::Result<(), DecodeError> {
    let pixels = u64::from(width) * u64::from(height);
    if pixels > MAX_PIXELS as u64 {
        return Err(bad(format!(
            "the image is too large: {width}×{height} = {pixels} pixels, more than the \
             {MAX_PIXELS} (8192×8192) that are read"
        )));
    }
    if pixels as usize * bytes_per_pixel > MAX_DECODED_BYTES {
        return Err(bad(format!(
            "the {width}×{height} image at {bytes_per_pixel} bytes per pixel is too large"
        )));
    }
    Ok(())
}

fn decode_png(bytes: &[u8]) -> std::result::Result<(Vec<u8>, u32, u32), DecodeError> {
    let mut decoder = png::Decoder::new_with_limits(
        std::io::Cursor::new(bytes),
        png::Limits {
            bytes: MAX_DECODED_BYTES,
        },
    );
    // Palette → RGB(A), 1/2/4-bit grey → 8-bit, tRNS → alpha; 16-bit stays 16-bit.
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().map_err(|e| bad(e.to_string()))?;
    let (width, height) = (reader.info().width, reader.info().height);
    check_size(width, height, 1)?;
    let size = reader
        .output_buffer_size()
        .filter(|&n| n <= MAX_DECODED_BYTES)
        .ok_or_else(|| bad("the image is too large"))?;
    let mut buf = vec![0u8; size];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| bad(e.to_string()))?;
    buf.truncate(info.buffer_size());
    // Up to the IEND chunk, checking each chunk's CRC: a file cut short is refused.
    reader.finish().map_err(|e| bad(e.to_string()))?;
    let channels = info.color_type.samples();
    let gray = match info.bit_depth {
        png::BitDepth::Eight => gray_from8(buf, channels),
        png::BitDepth::Sixteen => gray_from16(&buf, channels),
        depth => {
            return Err(bad(format!(
                "unexpected bit depth {depth:?} after expansion"
            )));
        }
    };
    if gray.len() != info.width as usize * info.height as usize {
        return Err(bad("the decoded pixels do not fill the image"));
    }
    Ok((gray, info.width, info.height))
}

fn decode_jpeg(bytes: &[u8]) -> std::result::Result<(Vec<u8>, u32, u32), DecodeError> {
    use zune_jpeg::zune_core::{
        bytestream::ZCursor, colorspace::ColorSpace, options::DecoderOptions,
    };
    check_jpeg_ends(bytes)?;
    // Strict: data that runs out or a marker inside the coded data is an error, not grey.
    let options = DecoderOptions::default()
        .set_strict_mode(true)
        .set_max_width(usize::from(u16::MAX))
        .set_max_height(usize::from(u16::MAX));
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder.decode_headers().map_err(|e| bad(e.to_string()))?;
    let info = decoder.info().ok_or_else(|| bad("no JPEG header"))?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    check_size(width, height, 4)?;
    // As `image` does: keep grey and RGB(A), convert YCbCr, CMYK, … to RGB.
    let input = decoder
        .input_colorspace()
        .ok_or_else(|| bad("no JPEG header"))?;
    let out = match input {
        ColorSpace::RGB | ColorSpace::RGBA | ColorSpace::Luma | ColorSpace::LumaA => input,
        _ => ColorSpace::RGB,
    };
    decoder.set_options(decoder.options().jpeg_set_out_colorspace(out));
    let samples = decoder.decode().map_err(|e| bad(e.to_string()))?;
    let channels = decoder
        .output_colorspace()
        .map_or(out.num_components(), |c| c.num_components());
    let n = width as usize * height as usize;
    if !(1..=4).contains(&channels) || samples.len() != n * channels {
        return Err(bad("the decoded JPEG does not fill the image"));
    }
    Ok((gray_from8(samples, channels), width, height))
}

/// Walks a JPEG's segments from its start to the end-of-image marker (`FF D9`), so that a
/// file cut anywhere is refused: a JPEG decoder fills what is missing with grey, and a cut
/// within the last bytes of coded data may lose nothing it needs. Bytes after the marker
/// (cameras append data there) are allowed.
fn check_jpeg_ends(bytes: &[u8]) -> std::result::Result<(), DecodeError> {
    let truncated = || bad("the JPEG is truncated: it ends before its end-of-image marker");
    let mut pos = 2; // after SOI
    loop {
        match bytes.get(pos..pos + 2) {
            Some([0xFF, 0xFF]) => pos += 1, // fill byte
            Some([0xFF, 0xD9]) => return Ok(()),
            // RSTn and TEM stand alone.
            Some([0xFF, 0xD0..=0xD7 | 0x01]) => pos += 2,
            Some(&[0xFF, marker]) => {
                let len = bytes.get(pos + 2..pos + 4).ok_or_else(truncated)?;
                pos += 2 + usize::from(u16::from_be_bytes([len[0], len[1]]));
                if marker == 0xDA {
                    // Entropy-coded data follows the scan header, up to the next marker
                    // (`FF 00` is a stuffed FF, `FF D0`–`FF D7` restart markers).
                    while let Some(w) = bytes.get(pos..pos + 2) {
                        if w[0] == 0xFF && !matches!(w[1], 0x00 | 0xD0..=0xD7) {
                            break;
                        }
                        pos += 1;
                    }
                }
            }
            Some(_) => return Err(bad(format!("the JPEG has no marker at byte {pos}"))),
            None => return Err(truncated()),
        }
    }
}

/// A PGM header's fields: the next whitespace-separated decimal number, skipping `#`
/// comments (which run to the end of the line).
fn pgm_number(bytes: &[u8], pos: &mut usize, what: &str) -> std::result::Result<u32, DecodeError> {
    loop {
        match bytes.get(*pos) {
            Some(c) if c.is_ascii_whitespace() => *pos += 1,
            Some(b'#') => {
                while bytes.get(*pos).is_some_and(|&c| c != b'\n' && c != b'\r') {
                    *pos += 1;
                }
            }
            Some(c) if c.is_ascii_digit() => break,
            Some(_) => return Err(bad(format!("PGM {what} is not a number"))),
            None => return Err(bad(format!("the PGM ends before its {what}"))),
        }
    }
    let mut v: u32 = 0;
    while let Some(&c) = bytes.get(*pos).filter(|c| c.is_ascii_digit()) {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u32::from(c - b'0')))
            .ok_or_else(|| bad(format!("PGM {what} is too large")))?;
        *pos += 1;
    }
    Ok(v)
}

/// Binary (`P5`) and ASCII (`P2`) PGM, any maxval up to 65535, scaled to 8 bits as the
/// `image` crate does (to 8 bits directly for maxval ≤ 255, else to 16 bits then 8).
fn decode_pgm(bytes: &[u8]) -> std::result::Result<(Vec<u8>, u32, u32), DecodeError> {
    let binary = bytes[1] == b'5';
    let mut pos = 2;
    if !bytes
        .get(pos)
        .is_some_and(|c| c.is_ascii_whitespace() || *c == b'#')
    {
        return Err(bad("not a PGM header (P5 or P2, then white space)"));
    }
    let width = pgm_number(bytes, &mut pos, "width")?;
    let height = pgm_number(bytes, &mut pos, "height")?;
    let maxval = pgm_number(bytes, &mut pos, "maxval")?;
    if !(1..=65535).contains(&maxval) {
        return Err(bad(format!("PGM maxval {maxval} is not in 1..=65535")));
    }
    check_size(width, height, 1)?;
    let n = width as usize * height as usize;
    // Every sample takes at least a byte: a small file cannot claim a huge allocation.
    let mut samples = Vec::with_capacity(n.min(bytes.len()));
    if binary {
        // Exactly one white-space byte separates the header from the samples.
        if !bytes.get(pos).is_some_and(|c| c.is_ascii_whitespace()) {
            return Err(bad("the PGM ends before its pixels"));
        }
        pos += 1;
        let bps = if maxval > 255 { 2 } else { 1 };
        let data = bytes.get(pos..).unwrap_or_default();
        if data.len() < n * bps {
            return Err(bad(format!(
                "the PGM is truncated: {} of {} pixel bytes",
                data.len(),
                n * bps
            )));
        }
        if bps == 1 {
            samples.extend(data[..n].iter().map(|&v| u32::from(v)));
        } else {
            samples.extend(
                data[..2 * n]
                    .chunks_exact(2)
                    .map(|p| u32::from(u16::from_be_bytes([p[0], p[1]]))),
            );
        }
    } else {
        for i in 0..n {
            match pgm_number(bytes, &mut pos, "pixel") {
                Ok(v) => samples.push(v),
                Err(_) if pos >= bytes.len() => {
                    return Err(bad(format!("the PGM is truncated: {i} of {n} pixels")));
                }
                Err(e) => return Err(e),
            }
        }
    }
    if let Some(v) = samples.iter().find(|&&v| v > maxval) {
        return Err(bad(format!("PGM pixel value {v} exceeds maxval {maxval}")));
    }
    let gray = if maxval <= 255 {
        let factor = 255.0 / maxval as f32;
        samples
            .iter()
            .map(|&v| (v as f32 * factor).round() as u8)
            .collect()
    } else {
        let factor = 65535.0 / maxval as f32;
        samples
            .iter()
            .map(|&v| to8((v as f32 * factor).round() as u16))
            .collect()
    };
    Ok((gray, width, height))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predict::prepare::load_for_model;

    #[test]
    fn files_that_are_not_images_get_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("backprop-img-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notes.png");
        std::fs::write(&path, b"hello, not a picture").unwrap();
        let e = load_for_model(&path, 28, 28).unwrap_err().to_string();
        assert!(e.contains("notes.png"), "{e}");
        let truncated = dir.join("cut.png");
        std::fs::write(&truncated, &b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"[..]).unwrap();
        let e = load_for_model(&truncated, 28, 28).unwrap_err().to_string();
        assert!(e.contains("cut.png") && e.contains("decode"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_pgm_round_trips_through_the_reader() {
        let dir = std::env::temp_dir().join(format!("backprop-pgm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("digit.pgm");
        let mut bytes = b"P5\n3 2\n255\n".to_vec();
        bytes.extend_from_slice(&[0, 128, 255, 10, 20, 30]);
        std::fs::write(&path, bytes).unwrap();
        let (gray, w, h) = read_gray(&path).unwrap();
        assert_eq!((w, h), (3, 2));
        assert_eq!(gray, vec![0, 128, 255, 10, 20, 30]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// `decode_gray`'s pixels, or its error as text.
    fn gray(bytes: &[u8]) -> std::result::Result<(Vec<u8>, u32, u32), String> {
        decode_gray(bytes).map_err(|e| e.to_string())
    }

    #[test]
    fn pgm_binary_and_ascii_give_their_pixels() {
        let mut p5 = b"P5\n# a comment\n3 2 # another\n255\n".to_vec();
        p5.extend_from_slice(&[0, 1, 127, 128, 254, 255]);
        assert_eq!(gray(&p5).unwrap(), (vec![0, 1, 127, 128, 254, 255], 3, 2));
        // maxval 15: v · 255/15 = 17 v
        let p2 = b"P2 2 2 15\n0 1\n\t14  15\n";
        assert_eq!(gray(p2).unwrap(), (vec![0, 17, 238, 255], 2, 2));
        // maxval 100, binary: round(v · 2.55)
        let mut p5 = b"P5 3 1 100 ".to_vec();
        p5.extend_from_slice(&[0, 50, 100]);
        assert_eq!(gray(&p5).unwrap(), (vec![0, 128, 255], 3, 1));
    }

    #[test]
    fn sixteen_bit_pgm_is_scaled_to_eight() {
        // maxval 65535, big-endian: round(v · 255/65535)
        let mut p5 = b"P5\n4 1\n65535\n".to_vec();
        for v in [0u16, 257, 32896, 65535] {
            p5.extend_from_slice(&v.to_be_bytes());
        }
        assert_eq!(gray(&p5).unwrap().0, vec![0, 1, 128, 255]);
        // maxval 1000: to 16 bits, then 8
        let mut p5 = b"P5 3 1 1000\n".to_vec();
        for v in [0u16, 500, 1000] {
            p5.extend_from_slice(&v.to_be_bytes());
        }
        assert_eq!(gray(&p5).unwrap().0, vec![0, 128, 255]);
        assert_eq!(gray(b"P2 3 1 300 0 150 300").unwrap().0, vec![0, 128, 255]);
    }

    #[test]
    fn broken_pgms_get_clear_errors() {
        let mut cut = b"P5\n3 2\n255\n".to_vec();
        cut.extend_from_slice(&[1, 2, 3, 4, 5]);
        let e = gray(&cut).unwrap_err();
        assert!(e.contains("truncated") && e.contains("5 of 6"), "{e}");
        let e = gray(b"P2 2 2 255\n1 2 3").unwrap_err();
        assert!(e.contains("truncated") && e.contains("3 of 4"), "{e}");
        for (bytes, want) in [
            (&b"P5"[..], "header"),
            (b"P5x 1 1 255\n\0", "header"),
            (b"P5\n", "width"),
            (b"P5 3", "height"),
            (b"P5 3 2", "maxval"),
            (b"P5 abc", "width is not a number"),
            (b"P5 1 1 0\n\0", "maxval 0"),
            (b"P5 1 1 65536\n\0", "maxval 65536"),
            (b"P5 99999999999 1 255\n", "too large"),
            (b"P5 100000 100000 255\n", "too large"),
            (b"P5 1 1 255", "ends before its pixels"),
            (b"P2 2 1 10 5 11", "exceeds maxval"),
            (b"P2 2 1 10 5 x", "pixel is not a number"),
        ] {
            let e = gray(bytes).unwrap_err();
            assert!(
                e.contains(want),
                "{:?}: {e}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn png_round_trips_in_grey_and_rgb() {
        let grey = [0, 10, 200, 255];
        let png = encode_png(&grey, 2, 2, png::ColorType::Grayscale).unwrap();
        assert_eq!(gray(&png).unwrap(), (grey.to_vec(), 2, 2));
        // 255 · (0.2126, 0.7152, 0.0722) ≈ 54.2, 182.4, 18.4; grey stays grey;
        // (100, 150, 200) → 21.26 + 107.28 + 14.43 ≈ 143.
        let rgb = [
            255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 77, 77, 77, 100, 150, 200,
        ];
        let png = encode_png(&rgb, 3, 2, png::ColorType::Rgb).unwrap();
        assert_eq!(gray(&png).unwrap(), (vec![54, 182, 18, 255, 77, 143], 3, 2));
        // Alpha is ignored, as `image`'s `to_luma8` ignores it.
        let rgba = [255, 0, 0, 0, 100, 150, 200, 7];
        let png = encode_png(&rgba, 2, 1, png::ColorType::Rgba).unwrap();
        assert_eq!(gray(&png).unwrap().0, vec![54, 143]);
        let la = [90, 0, 180, 255];
        let png = encode_png(&la, 2, 1, png::ColorType::GrayscaleAlpha).unwrap();
        assert_eq!(gray(&png).unwrap().0, vec![90, 180]);
    }

    fn png_with(
        w: u32,
        h: u32,
        color: png::ColorType,
        depth: png::BitDepth,
        data: &[u8],
        palette: Option<Vec<u8>>,
    ) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut encoder = png::Encoder::new(&mut bytes, w, h);
        encoder.set_color(color);
        encoder.set_depth(depth);
        if let Some(p) = palette {
            encoder.set_palette(p);
            encoder.set_trns(vec![255, 0]);
        }
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(data).unwrap();
        writer.finish().unwrap();
        bytes
    }

    #[test]
    fn palette_low_depth_and_16_bit_pngs_are_expanded() {
        use png::{BitDepth, ColorType};
        // Palette red, blue (transparent: ignored), 1-bit indices 0 1 1 0.
        let palette = vec![255, 0, 0, 0, 0, 255];
        let png = png_with(
            4,
            1,
            ColorType::Indexed,
            BitDepth::One,
            &[0b0110_0000],
            Some(palette),
        );
        assert_eq!(gray(&png).unwrap(), (vec![54, 18, 18, 54], 4, 1));
        // 2-bit grey 0..3 → 0, 85, 170, 255.
        let png = png_with(
            4,
            1,
            ColorType::Grayscale,
            BitDepth::Two,
            &[0b0001_1011],
            None,
        );
        assert_eq!(gray(&png).unwrap().0, vec![0, 85, 170, 255]);
        // 16-bit grey rounds: (v + 128) / 257.
        let l16: Vec<u8> = [0u16, 32896, 65535]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let png = png_with(3, 1, ColorType::Grayscale, BitDepth::Sixteen, &l16, None);
        assert_eq!(gray(&png).unwrap().0, vec![0, 128, 255]);
        // 16-bit RGB: full red and full white.
        let rgb16: Vec<u8> = [65535u16, 0, 0, 65535, 65535, 65535]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let png = png_with(2, 1, ColorType::Rgb, BitDepth::Sixteen, &rgb16, None);
        assert_eq!(gray(&png).unwrap().0, vec![54, 255]);
    }

    /// The fixtures were written by the `image` crate's JPEG encoder; the expected pixels are
    /// what `image` 0.25 decoded them to.
    #[test]
    fn jpegs_decode_as_the_image_crate_did() {
        let grey = include_bytes!("../../tests/fixtures/images/grey4x3.jpg");
        let want = vec![0, 61, 107, 146, 206, 242, 240, 1, 28, 58, 95, 127];
        assert_eq!(gray(grey).unwrap(), (want, 4, 3));
        let rgb = include_bytes!("../../tests/fixtures/images/rgb6x4.jpg");
        let want = vec![
            15, 23, 33, 40, 49, 58, 53, 62, 71, 79, 87, 96, 104, 112, 122, 129, 137, 147, 136, 145,
            155, 162, 171, 179,
        ];
        assert_eq!(gray(rgb).unwrap(), (want, 6, 4));
        let e = gray(&rgb[..rgb.len() / 2]).err();
        // A JPEG cut short may decode with grey fill (as `image` did) or fail; never panic.
        if let Some(e) = e {
            assert!(!e.is_empty());
        }
        assert!(gray(&[0xFF, 0xD8, 0xFF]).is_err());
    }

    #[test]
    fn other_bytes_are_not_an_image() {
        for bytes in [
            &b""[..],
            b"GIF89a",
            b"P6 1 1 255\n\0\0\0",
            b"\x89PN",
            b"\xFF\xD8",
        ] {
            assert_eq!(
                decode_gray(bytes),
                Err(DecodeError::NotAnImage),
                "{bytes:?}"
            );
        }
    }

    /// Random, cut and corrupted files behind each signature return errors, never panic.
    #[test]
    fn garbage_with_a_valid_signature_does_not_panic() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let valid: Vec<Vec<u8>> = vec![
            include_bytes!("../../tests/fixtures/images/grey4x3.jpg").to_vec(),
            include_bytes!("../../tests/fixtures/images/rgb6x4.jpg").to_vec(),
            encode_png(&[1, 2, 3, 4, 5, 6], 2, 1, png::ColorType::Rgb).unwrap(),
            b"P5 3 1 65535\n\x01\x02\x03\x04\x05\x06".to_vec(),
            b"P2 3 1 255\n1 2 3\n".to_vec(),
        ];
        for file in &valid {
            for len in 0..file.len() {
                let _ = decode_gray(&file[..len]);
            }
            for _ in 0..300 {
                let mut f = file.clone();
                for _ in 0..1 + next() % 4 {
                    let i = (next() as usize) % f.len();
                    f[i] = next() as u8;
                }
                let _ = decode_gray(&f);
            }
        }
        for magic in [&b"\x89PNG\r\n\x1a\n"[..], b"\xFF\xD8\xFF", b"P5", b"P2"] {
            for _ in 0..300 {
                let mut f = magic.to_vec();
                f.extend((0..next() % 200).map(|_| next() as u8));
                let _ = decode_gray(&f);
            }
        }
    }
}
