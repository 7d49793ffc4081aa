//! `backprop predict` driven as a user would: a model trained on the embedded digits, PNGs of
//! digits drawn dark on light at another size and place, IDX files, and bad inputs.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use backprop::data::digits::load_digits;
use backprop::io::image::{encode_png, read_gray};
use common::{backprop, fixture, run_ok, scratch, stderr, stdout, write_idx};

fn dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| scratch("files"))
}

/// A TwoLayerNet trained on the digits (about 96 % on the test split), saved once.
fn model() -> &'static str {
    static MODEL: OnceLock<String> = OnceLock::new();
    MODEL.get_or_init(|| {
        let m = dir().join("digits.safetensors");
        run_ok(&[
            "train",
            "--epochs",
            "20",
            "--hidden",
            "50",
            "--optimizer",
            "adam",
            "--lr",
            "0.01",
            "--seed",
            "3",
            "--save",
            m.to_str().unwrap(),
        ]);
        m.to_str().unwrap().to_string()
    })
}

/// Digit `i` of the embedded set drawn as a photo of it would be: dark ink on white paper,
/// each pixel a `scale × scale` block, at `(left, top)` of a `w × h` page.
fn write_png(i: usize, scale: u32, (left, top): (u32, u32), (w, h): (u32, u32)) -> PathBuf {
    let digits = load_digits().unwrap();
    let img = digits.image(i);
    let page: Vec<u8> = (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            let (dx, dy) = (x.wrapping_sub(left) / scale, y.wrapping_sub(top) / scale);
            let v = if x >= left && y >= top && dx < 8 && dy < 8 {
                img[(dy * 8 + dx) as usize] as u32
            } else {
                0
            };
            (255 - v * 255 / 16) as u8
        })
        .collect();
    let p = dir().join(format!("digit{i}_{scale}.png"));
    write_gray_png(&p, &page, w, h);
    p
}

fn write_gray_png(path: &Path, pixels: &[u8], w: u32, h: u32) {
    let png = encode_png(pixels, w, h, png::ColorType::Grayscale).unwrap();
    std::fs::write(path, png).unwrap();
}

fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The model's own view of digit `i` as the 8×8 dataset holds it (pixels / 16).
fn raw_prediction(i: usize) -> usize {
    let mut m = backprop::io::safetensors::load::<f32>(Path::new(model())).unwrap();
    let digits = load_digits().unwrap();
    let pixels: Vec<f32> = digits.image(i).iter().map(|&v| v as f32 / 16.0).collect();
    backprop::predict::classify(&mut m.net, &m.info, &pixels).class()
}

#[test]
fn photos_of_digits_are_recognised() {
    let m = model();
    let digits = load_digits().unwrap();
    // Samples the model gets right as 8×8 arrays, drawn 6× larger, dark on white, off-centre.
    let right: Vec<usize> = (0..30)
        .filter(|&i| raw_prediction(i) == digits.labels[i] as usize)
        .collect();
    assert!(right.len() >= 25, "{right:?}");
    let pngs: Vec<PathBuf> = right
        .iter()
        .map(|&i| write_png(i, 6, (7 + i as u32 % 20, 30), (90, 100)))
        .collect();
    let mut args = vec!["predict", "--model", m, "--json"];
    args.extend(pngs.iter().map(|p| p.to_str().unwrap()));
    let o = backprop(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = json_lines(&o);
    assert_eq!(out.len(), right.len());
    let (mut top1, mut top3) = (0, 0);
    for (v, &i) in out.iter().zip(&right) {
        let label = digits.labels[i] as u64;
        top1 += (v["class"] == label) as usize;
        top3 += v["top"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["class"] == label) as usize;
    }
    // Cropping, rescaling and centring are not the dataset's own preparation: most, not all.
    assert!(top1 * 10 >= right.len() * 8, "top-1 {top1}/{}", right.len());
    assert!(top3 * 10 >= right.len() * 9, "top-3 {top3}/{}", right.len());
}

#[test]
fn text_output_names_the_classes_and_the_inversion() {
    let m = model();
    let dark_on_light = write_png(0, 5, (3, 9), (60, 50));
    // The same digit light on black: no inversion, same answer.
    let (gray, w, h) = read_gray(&dark_on_light).unwrap();
    let light_on_dark = dir().join("digit0_inverse.png");
    let inverse: Vec<u8> = gray.iter().map(|v| 255 - v).collect();
    write_gray_png(&light_on_dark, &inverse, w, h);
    let printed = run_ok(&[
        "predict",
        "--model",
        m,
        dark_on_light.to_str().unwrap(),
        light_on_dark.to_str().unwrap(),
    ]);
    let text = printed;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 10, "{text}");
    assert_eq!(
        lines[0],
        format!(
            "{} (60×50, light background: inverted): 0",
            dark_on_light.display()
        )
    );
    // A header names the columns (issue 20).
    assert_eq!(lines[1], "  class  probability");
    assert_eq!(lines[5], format!("{} (60×50): 0", light_on_dark.display()));
    // Three classes, probabilities descending and summing to at most 1.
    let probs: Vec<f64> = lines[2..5]
        .iter()
        .map(|l| l.split_whitespace().nth(1).unwrap().parse().unwrap())
        .collect();
    assert!(probs.windows(2).all(|w| w[0] >= w[1]) && probs.iter().sum::<f64>() <= 1.0 + 1e-4);
    assert_eq!(lines[2].split_whitespace().next(), Some("0"));
    assert_eq!(&lines[1..5], &lines[6..10]);

    // JSON: one object per image, with the softmax of the logits.
    let o = backprop(&[
        "predict",
        "--model",
        m,
        "--json",
        "--top",
        "10",
        dark_on_light.to_str().unwrap(),
    ]);
    let v = &json_lines(&o)[0];
    assert_eq!(v["inverted"], true);
    assert_eq!(v["original_size"], serde_json::json!([60, 50]));
    assert_eq!(v["prediction"], "0");
    let logits: Vec<f64> = serde_json::from_value(v["logits"].clone()).unwrap();
    let top = v["top"].as_array().unwrap();
    assert_eq!(top.len(), 10);
    let z: f64 = logits.iter().map(|l| l.exp()).sum();
    for t in top {
        let c = t["class"].as_u64().unwrap() as usize;
        let want = logits[c].exp() / z;
        assert!((t["probability"].as_f64().unwrap() - want).abs() < 1e-9);
        assert_eq!(t["name"], c.to_string());
    }
}

/// The digits as an IDX data directory: training set = the first 200, test set = the next
/// 100, pixels × 15 (0–240). The test labels are shifted by one, (label + 1) mod 10, so that
/// `eval` lists every test sample as a mistake, with its prediction.
fn idx_dir() -> PathBuf {
    let d = dir().join("idx");
    std::fs::create_dir_all(&d).unwrap();
    let digits = load_digits().unwrap();
    for (name, range) in [("train", 0..200), ("t10k", 200..300)] {
        let n = range.len();
        let images: Vec<u8> = range
            .clone()
            .flat_map(|i| digits.image(i).iter().map(|&v| v * 15))
            .collect();
        let labels: Vec<u8> = digits.labels[range]
            .iter()
            .map(|&l| if name == "t10k" { (l + 1) % 10 } else { l })
            .collect();
        write_idx(
            &d.join(format!("{name}-images-idx3-ubyte")),
            &[n, 8, 8],
            &images,
        );
        write_idx(&d.join(format!("{name}-labels-idx1-ubyte")), &[n], &labels);
    }
    d
}

#[test]
fn an_idx_image_gets_the_prediction_eval_gives_it() {
    let m = model();
    let d = idx_dir();
    let printed = run_ok(&[
        "eval",
        "--model",
        m,
        "--data",
        d.to_str().unwrap(),
        "--json",
        "--misclassified",
        "100",
    ]);
    let e: serde_json::Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(e["samples"], 100);
    let digits = load_digits().unwrap();
    // A prediction equal to the shifted label would not be listed: then it is that label.
    let mut eval_pred: Vec<u64> = (200..300)
        .map(|i| (digits.labels[i] as u64 + 1) % 10)
        .collect();
    for mis in e["misclassified"].as_array().unwrap() {
        eval_pred[mis["index"].as_u64().unwrap() as usize] = mis["prediction"].as_u64().unwrap();
    }
    let images = d.join("t10k-images-idx3-ubyte");
    let labels = d.join("t10k-labels-idx1-ubyte");
    // Every misclassified sample, and a few right ones.
    let mut picks: Vec<usize> = e["misclassified"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["index"].as_u64().unwrap() as usize)
        .collect();
    assert!(picks.len() >= 90, "{}", picks.len());
    picks.truncate(12);
    picks.push(99);
    for i in picks {
        let is = i.to_string();
        let o = backprop(&[
            "predict",
            "--model",
            m,
            "--idx",
            images.to_str().unwrap(),
            "--index",
            &is,
            "--labels",
            labels.to_str().unwrap(),
            "--json",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let v = &json_lines(&o)[0];
        assert_eq!(v["class"], eval_pred[i], "sample {i}");
        assert_eq!(v["label"], (digits.labels[200 + i] as u64 + 1) % 10);
        assert_eq!(v["index"], i as u64);
    }
    let o = backprop(&[
        "predict",
        "--model",
        m,
        "--idx",
        images.to_str().unwrap(),
        "--index",
        "3",
        "--labels",
        labels.to_str().unwrap(),
    ]);
    let first = stdout(&o).lines().next().unwrap().to_string();
    let want = format!(
        "{} [3] (label {}): ",
        images.display(),
        (digits.labels[203] + 1) % 10
    );
    assert!(first.starts_with(&want), "{first}");
}

#[test]
fn bad_inputs_are_one_line_errors() {
    let m = model();
    let d = idx_dir();
    let images = d.join("t10k-images-idx3-ubyte");
    let not_image = dir().join("notes.txt");
    std::fs::write(&not_image, "just text\n").unwrap();
    let truncated = dir().join("truncated.png");
    let png = std::fs::read(write_png(1, 2, (0, 0), (20, 20))).unwrap();
    std::fs::write(&truncated, &png[..png.len() / 2]).unwrap();
    let missing = dir().join("missing.png");
    let wrong_size = dir().join("wrong-size-idx3-ubyte");
    write_idx(&wrong_size, &[1, 4, 4], &[0; 16]);
    let s = |p: &Path| p.to_str().unwrap().to_string();
    for (args, file, why) in [
        (
            vec![s(&not_image)],
            s(&not_image),
            "not a PNG, JPEG or PGM image",
        ),
        (
            vec![s(&truncated)],
            s(&truncated),
            "cannot decode the image",
        ),
        (vec![s(&missing)], s(&missing), ""),
        (
            vec!["--idx".into(), s(&images), "--index".into(), "100".into()],
            s(&images),
            "index 100 is out of range: the file holds 100 images",
        ),
        (
            vec!["--idx".into(), s(&wrong_size), "--index".into(), "0".into()],
            s(&wrong_size),
            "its images are 4×4, the model takes 8×8",
        ),
        (
            vec![
                "--idx".into(),
                s(&d.join("t10k-labels-idx1-ubyte")),
                "--index".into(),
                "0".into(),
            ],
            s(&d.join("t10k-labels-idx1-ubyte")),
            "image file",
        ),
    ] {
        let mut a = vec!["predict".to_string(), "--model".into(), m.to_string()];
        a.extend(args);
        let a: Vec<&str> = a.iter().map(|x| x.as_str()).collect();
        let o = backprop(&a);
        assert_eq!(o.status.code(), Some(1), "{a:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(
            e.starts_with(&format!("error: {file}: ")) && e.contains(why),
            "{e}"
        );
    }
    // Usage errors: exit 2.
    for a in [
        vec!["predict", "--model", m],
        vec!["predict", "--model", m, "--index", "0", "x.png"],
        vec!["predict", "--model", m, "--idx", images.to_str().unwrap()],
        vec!["predict", "--model", m, "--top", "0", "x.png"],
        vec![
            "predict",
            "--model",
            m,
            "--idx",
            images.to_str().unwrap(),
            "--index",
            "0",
            "x.png",
        ],
    ] {
        assert_eq!(backprop(&a).status.code(), Some(2), "{a:?}");
    }
}

#[test]
fn a_book_pickle_predicts_directly() {
    // The 8×8 deep-conv fixture classifies a digit photo with --arch, like eval.
    let pkl = fixture("deep_conv.pkl");
    let png = write_png(4, 3, (2, 2), (30, 30));
    let o = backprop(&[
        "predict",
        "--model",
        pkl.to_str().unwrap(),
        "--arch",
        "deep-conv",
        "--json",
        png.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = &json_lines(&o)[0];
    assert_eq!(v["top"].as_array().unwrap().len(), 3);

    // Against NumPy: make_pickles.py ran the fixture's three 8×8 inputs through its own
    // forward pass (expected.json). predict reads bytes / 255, so the inputs go in as the
    // nearest bytes: off by at most 1/510 each, which moves these logits by less than 0.001, a quarter of
    // LOGIT_TOLERANCE (and the probabilities by less still).
    const LOGIT_TOLERANCE: f64 = 0.003;
    let net = &common::expected()["nets"]["deep_conv.pkl"];
    let inputs: Vec<f64> = serde_json::from_value(net["inputs"].clone()).unwrap();
    let want: Vec<Vec<f64>> = serde_json::from_value(net["logits"].clone()).unwrap();
    let bytes: Vec<u8> = inputs.iter().map(|&x| (x * 255.0).round() as u8).collect();
    let idx = dir().join("numpy-inputs-idx3-ubyte");
    write_idx(&idx, &[want.len(), 8, 8], &bytes);
    for (i, want) in want.iter().enumerate() {
        let o = backprop(&[
            "predict",
            "--model",
            pkl.to_str().unwrap(),
            "--arch",
            "deep-conv",
            "--idx",
            idx.to_str().unwrap(),
            "--index",
            &i.to_string(),
            "--json",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let v = &json_lines(&o)[0];
        let logits: Vec<f64> = serde_json::from_value(v["logits"].clone()).unwrap();
        assert_eq!(logits.len(), want.len());
        for (got, want) in logits.iter().zip(want) {
            assert!(
                (got - want).abs() < LOGIT_TOLERANCE,
                "input {i}: {logits:?} vs NumPy {want:?}"
            );
        }
        // The class NumPy's logits give, and their softmax (computed here) as the top.
        let argmax = (0..want.len())
            .max_by(|&a, &b| want[a].total_cmp(&want[b]))
            .unwrap();
        assert_eq!(v["class"], argmax, "input {i}: {v}");
        let max = want[argmax];
        let sum: f64 = want.iter().map(|y| (y - max).exp()).sum();
        let p = v["top"][0]["probability"].as_f64().unwrap();
        assert!(
            (p - 1.0 / sum).abs() < LOGIT_TOLERANCE,
            "input {i}: {p} vs {}",
            1.0 / sum
        );
    }

    let o = backprop(&[
        "predict",
        "--model",
        pkl.to_str().unwrap(),
        png.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("pass --arch"));
}
