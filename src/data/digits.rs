//! The embedded default dataset: the UCI "Optical Recognition of Handwritten Digits" test
//! part (E. Alpaydin, C. Kaynak, 1998; CC BY 4.0), 1797 images of 8×8 pixels valued 0–16,
//! as scikit-learn ships it. Compiled into the binary so that `backprop train` works with
//! no files at all.

use std::io::Read;

use super::Dataset;
use crate::error::{Error, Result};

/// The gzipped CSV: 1797 rows of 64 pixels then the label, no header.
pub const DIGITS_CSV_GZ: &[u8] = include_bytes!("../../data/digits.csv.gz");

/// Number of samples in the embedded set.
pub const DIGITS_LEN: usize = 1797;

/// Loads the embedded digits.
pub fn load_digits() -> Result<Dataset> {
    let mut csv = String::new();
    flate2::read::GzDecoder::new(DIGITS_CSV_GZ)
        .read_to_string(&mut csv)
        .map_err(|e| Error::format("<embedded digits.csv.gz>", e.to_string()))?;
    parse_digits_csv(&csv, "<embedded digits.csv.gz>")
}

/// Parses rows of 64 pixel values (0–16) followed by a label (0–9).
pub fn parse_digits_csv(csv: &str, origin: &str) -> Result<Dataset> {
    let mut images = Vec::with_capacity(DIGITS_LEN * 64);
    let mut labels = Vec::with_capacity(DIGITS_LEN);
    for (line_no, line) in csv
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let bad = |msg: String| Error::format(origin, format!("line {}: {msg}", line_no + 1));
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != 65 {
            return Err(bad(format!("{} fields, expected 65", fields.len())));
        }
        for (i, f) in fields.iter().enumerate() {
            let v: f64 = f
                .trim()
                .parse()
                .map_err(|_| bad(format!("{f:?} is not a number")))?;
            let max = if i == 64 { 9.0 } else { 16.0 };
            if !(0.0..=max).contains(&v) || v.fract() != 0.0 {
                return Err(bad(format!("value {v} outside 0..={max}")));
            }
            if i == 64 {
                labels.push(v as u8);
            } else {
                images.push(v as u8);
            }
        }
    }
    Ok(Dataset {
        name: "digits".into(),
        images,
        labels,
        image_shape: [1, 8, 8],
        max_value: 16,
        class_names: (0..10).map(|d| d.to_string()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn embedded_digits_match_the_published_description() {
        let d = load_digits().unwrap();
        assert_eq!(d.len(), DIGITS_LEN);
        assert_eq!(d.images.len(), DIGITS_LEN * 64);
        // class counts of the test part in UCI's description (optdigits.names)
        assert_eq!(
            d.class_counts(),
            [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
        );
        // the first row of the file is a 0 whose first pixels are 0,0,5,13,9,1,0,0
        assert_eq!(d.labels[0], 0);
        assert_eq!(&d.image(0)[..8], &[0, 0, 5, 13, 9, 1, 0, 0]);
    }

    #[test]
    fn split_is_80_20_and_seeded() {
        let d = load_digits().unwrap();
        let a = d.split(0.8, &mut Rng::new(1));
        let b = d.split(0.8, &mut Rng::new(1));
        let c = d.split(0.8, &mut Rng::new(2));
        assert_eq!((a.train.len(), a.test.len()), (1438, 359));
        assert_eq!(a.train.labels, b.train.labels);
        assert_ne!(a.train.labels, c.train.labels);
    }

    #[test]
    fn bad_rows_are_rejected_with_line_numbers() {
        let e = parse_digits_csv("1,2,3\n", "x.csv")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("x.csv") && e.contains("line 1") && e.contains("3 fields"),
            "{e}"
        );
        let row = format!("{}17\n", "0,".repeat(64));
        let e = parse_digits_csv(&row, "x.csv").unwrap_err().to_string();
        assert!(e.contains("outside"), "{e}");
    }
}
