//! Model files driven through the CLI as a user would: `train --save`, `eval`, `import`.

mod common;

use std::path::Path;

use common::{
    backprop, fixture, run_ok, safetensors_header, scratch, stderr, stdout, write_digits_idx,
};

#[test]
fn train_save_then_eval_reports_the_same_test_accuracy() {
    let dir = scratch("train-eval");
    let model = dir.join("m.safetensors");
    let m = model.to_str().unwrap();
    let printed = run_ok(&[
        "train", "--epochs", "5", "--hidden", "20", "--seed", "3", "--json", "--save", m,
    ]);
    let last: serde_json::Value = serde_json::from_str(printed.lines().last().unwrap()).unwrap();
    // eval picks up the dataset and the seed (hence the same test split) from the file.
    let printed = run_ok(&["eval", "--model", m, "--json", "--misclassified", "3"]);
    let e: serde_json::Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(e["accuracy"], last["test_acc"]);
    assert_eq!(e["seed"], 3);
    assert_eq!(e["dtype"], "F32");
    assert_eq!(e["samples"], 359);
    let confusion: Vec<Vec<u64>> = serde_json::from_value(e["confusion"].clone()).unwrap();
    let diag: u64 = (0..10).map(|i| confusion[i][i]).sum();
    assert_eq!(diag, e["correct"].as_u64().unwrap());
    let mis = e["misclassified"].as_array().unwrap();
    assert_eq!(mis.len(), 3);
    for m in mis {
        assert_ne!(m["label"], m["prediction"]);
    }
    // The text report carries the same numbers.
    let o = backprop(&["eval", "--model", m, "--misclassified", "2"]);
    let text = stdout(&o);
    let acc = last["test_acc"].as_f64().unwrap();
    assert!(text.contains(&format!("test accuracy: {acc:.4}")), "{text}");
    assert!(text.contains("confusion matrix"), "{text}");
    let line = text.lines().last().unwrap();
    assert!(
        line.starts_with('{') && line.matches(": (").count() == 2,
        "{line}"
    );
}

#[test]
fn import_then_eval_matches_evaluating_the_pickle_directly() {
    let dir = scratch("import");
    let out = dir.join("tl.safetensors");
    let printed = run_ok(&[
        "import",
        fixture("two_layer.pkl").to_str().unwrap(),
        "--arch",
        "two-layer",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        printed.contains("W1 b1 W2 b2; input [1, 8, 8], 10 classes"),
        "{}",
        printed
    );
    let a = backprop(&["eval", "--model", out.to_str().unwrap(), "--json"]);
    let b = backprop(&[
        "eval",
        "--model",
        fixture("two_layer.pkl").to_str().unwrap(),
        "--arch",
        "two-layer",
        "--json",
    ]);
    assert!(
        a.status.success() && b.status.success(),
        "{}{}",
        stderr(&a),
        stderr(&b)
    );
    let a: serde_json::Value = serde_json::from_str(&stdout(&a)).unwrap();
    let b: serde_json::Value = serde_json::from_str(&stdout(&b)).unwrap();
    assert_eq!(a["dtype"], "F64");
    assert_eq!(a["confusion"], b["confusion"]);
    assert_eq!(a["arch"]["hidden"], 16);
}

#[test]
fn bad_pickles_are_clear_errors() {
    let dir = scratch("bad");
    let out = dir.join("x.safetensors");
    let out = out.to_str().unwrap();
    let o = backprop(&[
        "import",
        fixture("two_layer_bad.pkl").to_str().unwrap(),
        "--arch",
        "two-layer",
        "--out",
        out,
    ]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("two_layer_bad.pkl: the tensors do not fit"),
        "{e}"
    );
    assert!(
        e.contains("tensor W2 has shape [15, 10], the architecture needs [16, 10]"),
        "{e}"
    );
    assert!(e.contains("missing tensor b2"), "{e}");
    assert!(e.contains("unexpected tensor gamma1"), "{e}");
    assert!(!Path::new(out).exists());

    let o = backprop(&[
        "import",
        fixture("evil_p4.pkl").to_str().unwrap(),
        "--arch",
        "two-layer",
        "--out",
        out,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("refusing the global `posix.system`"),
        "{}",
        stderr(&o)
    );

    let o = backprop(&[
        "eval",
        "--model",
        fixture("two_layer.pkl").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("pass --arch"), "{}", stderr(&o));

    // A two-layer pickle under the other architectures: what does not fit, by name.
    for (arch, why) in [
        ("multi-layer:100,100:sigmoid", "missing tensor W3"),
        (
            "multi-layer:20",
            "tensor W1 has shape [64, 16], the architecture needs [64, 20]",
        ),
        (
            "simple-conv",
            "needs a 4-D W1 (FN, C, FH, FW), found [64, 16]",
        ),
        ("deep-conv", "needs a 4-D W1 (16, C, 3, 3), found [64, 16]"),
    ] {
        let o = backprop(&[
            "import",
            fixture("two_layer.pkl").to_str().unwrap(),
            "--arch",
            arch,
            "--out",
            out,
        ]);
        assert_eq!(o.status.code(), Some(1), "{arch}");
        assert!(stderr(&o).contains(why), "{arch}: {}", stderr(&o));
    }
    let o = backprop(&[
        "import",
        fixture("two_layer.pkl").to_str().unwrap(),
        "--arch",
        "multi-layer:x",
        "--out",
        out,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not a positive integer"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn damaged_model_files_are_clear_errors() {
    let dir = scratch("damaged");
    let m = dir.join("m.safetensors");
    std::fs::write(&m, b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":").unwrap();
    let o = backprop(&["eval", "--model", m.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("m.safetensors: not a safetensors file"),
        "{}",
        stderr(&o)
    );
    let o = backprop(&[
        "eval",
        "--model",
        dir.join("none.safetensors").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("none.safetensors"), "{}", stderr(&o));
}

/// A safetensors file starts with its header length as 8 little-endian bytes, so a header of
/// 0x380 bytes starts `80 03`, like a protocol-3 pickle. The header's length follows the
/// `--data` path recorded in it, so a path of the right length gives a real saved model that
/// starts so; `eval` and `predict` must read it as the F32 model it is.
#[test]
fn a_saved_model_whose_header_starts_like_a_pickle_reads_back() {
    let dir = scratch("header-0x80");
    let data = |pad: usize| dir.join(format!("d{}", "x".repeat(pad)));
    write_digits_idx(&data(0), 0..300, 300..400);
    let model = dir.join("m.safetensors");
    let train = |pad: usize| {
        let o = backprop(&[
            "train",
            "--data",
            data(pad).to_str().unwrap(),
            "--iters",
            "30",
            "--hidden",
            "10",
            "--seed",
            "5",
            "--json",
            "--save",
            model.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        o
    };
    // How the JSON grows with the path, then the padding that makes the header 0x?80 long.
    train(0);
    let (_, json0) = safetensors_header(&model);
    std::fs::rename(data(0), data(1)).unwrap();
    train(1);
    let per_char = safetensors_header(&model).1 - json0;
    assert!(per_char > 0);
    let pad = (1..)
        .find(|p| (json0 + per_char * p).next_multiple_of(8) % 0x100 == 0x80)
        .unwrap();
    std::fs::rename(data(1), data(pad)).unwrap();
    let o = train(pad);
    let (n, _) = safetensors_header(&model);
    assert_eq!(n % 0x100, 0x80, "header length {n:#x}");
    let bytes = std::fs::read(&model).unwrap();
    assert_eq!(bytes[0], 0x80, "the file starts like a pickle");

    let last: serde_json::Value = serde_json::from_str(stdout(&o).lines().last().unwrap()).unwrap();
    let m = model.to_str().unwrap();
    let printed = run_ok(&["eval", "--model", m, "--json"]);
    let e: serde_json::Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(e["dtype"], "F32");
    assert_eq!(e["samples"], 100);
    assert_eq!(e["accuracy"], last["test_acc"]);
    let images = data(pad).join("t10k-images-idx3-ubyte");
    let printed = run_ok(&[
        "predict",
        "--model",
        m,
        "--idx",
        images.to_str().unwrap(),
        "--index",
        "0",
        "--json",
    ]);
    let p: serde_json::Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(p["top"].as_array().map(Vec::len), Some(3), "{p}");
}

/// A pickle of protocol 0 or 1 (no PROTO opcode) is named as such, with or without --arch,
/// instead of being told to pass the --arch it was given.
#[test]
fn protocol_0_and_1_pickles_are_refused_as_such() {
    let dir = scratch("old-pickles");
    // pickle.dumps({'W1': 1.0}, protocol) for protocols 0 and 1.
    for (proto, bytes) in [
        (0, &b"(dp0\nVW1\np1\nF1.0\ns."[..]),
        (
            1,
            b"}q\x00X\x02\x00\x00\x00W1q\x01G?\xf0\x00\x00\x00\x00\x00\x00s.",
        ),
    ] {
        let path = dir.join(format!("p{proto}.pkl"));
        std::fs::write(&path, bytes).unwrap();
        let p = path.to_str().unwrap();
        for args in [
            &["eval", "--model", p, "--arch", "two-layer"][..],
            &["eval", "--model", p],
            &["import", p, "--arch", "two-layer", "--out", "x.safetensors"],
        ] {
            let o = backprop(args);
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
            assert!(
                err.contains(p) && err.contains("pickle protocols 0 and 1 are not supported"),
                "{args:?}: {err}"
            );
            assert!(!err.contains("pass --arch"), "{args:?}: {err}");
        }
    }
}

/// The misclassified test samples a `--report` lists, `(index, label, prediction)`, from its
/// captions `#index: label → prediction` (the digits' class names are their numbers).
fn report_mistakes(html: &str) -> Vec<(u64, u64, u64)> {
    html.split("<figcaption>#")
        .skip(1)
        .map(|rest| {
            let caption = &rest[..rest.find("</figcaption>").unwrap()];
            let (i, pair) = caption.split_once(": ").unwrap();
            let (l, p) = pair.split_once(" → ").unwrap();
            (i.parse().unwrap(), l.parse().unwrap(), p.parse().unwrap())
        })
        .collect()
}

/// `train --save` then `eval`: the saved net classifies the test set as the trained net did
/// in the training process (its final test accuracy, and the mistakes its report lists).
fn saved_net_classifies_as_trained(tag: &str, args: &[&str]) {
    let dir = scratch(tag);
    let model = dir.join("m.safetensors");
    let report = dir.join("r.html");
    let o = backprop(
        &[
            &["train", "--seed", "3", "--json"][..],
            args,
            &[
                "--save",
                model.to_str().unwrap(),
                "--report",
                report.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    assert!(o.status.success(), "{tag}: {}", stderr(&o));
    let last: serde_json::Value = serde_json::from_str(stdout(&o).lines().last().unwrap()).unwrap();
    let mistakes = report_mistakes(&std::fs::read_to_string(&report).unwrap());
    assert!(mistakes.len() >= 3, "{tag}: {mistakes:?}");
    let o = backprop(&[
        "eval",
        "--model",
        model.to_str().unwrap(),
        "--json",
        "--misclassified",
        &mistakes.len().to_string(),
    ]);
    assert!(o.status.success(), "{tag}: {}", stderr(&o));
    let e: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(e["accuracy"], last["test_acc"], "{tag}");
    let listed: Vec<(u64, u64, u64)> = e["misclassified"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let n = |k: &str| m[k].as_u64().unwrap();
            (n("index"), n("label"), n("prediction"))
        })
        .collect();
    assert_eq!(listed, mistakes, "{tag}");
}

#[test]
fn multi_layer_with_batch_norm_and_dropout_saves_what_it_learned() {
    saved_net_classifies_as_trained(
        "multi-layer-bn-dropout",
        &[
            "--model",
            "multi-layer",
            "--hidden",
            "30,20",
            "--batch-norm",
            "--dropout",
            "0.3",
            "--iters",
            "60",
        ],
    );
}

#[test]
fn convolutional_nets_save_what_they_learned() {
    saved_net_classifies_as_trained(
        "simple-conv",
        &["--model", "simple-conv", "--iters", "30", "--lr", "0.1"],
    );
    saved_net_classifies_as_trained(
        "deep-conv",
        &[
            "--model",
            "deep-conv",
            "--iters",
            "20",
            "--optimizer",
            "adam",
            "--batch-size",
            "50",
        ],
    );
}

/// `--precision f64` trains in f64 and saves F64 tensors; it learns as the f32 run does, but
/// not bit for bit like it.
#[test]
fn f64_training_saves_f64_and_learns() {
    let dir = scratch("f64");
    let run = |precision: &str| {
        let model = dir.join(format!("{precision}.safetensors"));
        let printed = run_ok(&[
            "train",
            "--precision",
            precision,
            "--iters",
            "600",
            "--hidden",
            "30",
            "--lr",
            "0.5",
            "--json",
            "--save",
            model.to_str().unwrap(),
        ]);
        let last: serde_json::Value =
            serde_json::from_str(printed.lines().last().unwrap()).unwrap();
        let e = backprop(&["eval", "--model", model.to_str().unwrap(), "--json"]);
        assert!(e.status.success(), "{}", stderr(&e));
        let e: serde_json::Value = serde_json::from_str(&stdout(&e)).unwrap();
        assert_eq!(e["accuracy"], last["test_acc"]);
        let m = backprop::io::safetensors::load::<f64>(&model).unwrap();
        (e["dtype"].clone(), last["test_acc"].as_f64().unwrap(), m)
    };
    let (dtype64, acc64, mut m64) = run("f64");
    let (dtype32, acc32, mut m32) = run("f32");
    assert_eq!(dtype64, "F64");
    assert_eq!(m64.dtype, "F64");
    assert_eq!(dtype32, "F32");
    // Both reach 0.9526 here; chance is 0.1.
    assert!(acc64 > 0.94 && acc32 > 0.94, "f64 {acc64}, f32 {acc32}");
    // The same run in two precisions: close, not equal.
    let (p64, p32) = (m64.net.params(), m32.net.params());
    let mut differ = false;
    for (a, b) in p64.iter().zip(&p32) {
        for (x, y) in a.value.iter().zip(b.value.iter()) {
            assert!((x - y).abs() < 1e-2, "{}: {x} vs {y}", a.name);
            differ |= x != y;
        }
    }
    assert!(differ, "the f64 run gave the f32 run's weights");
}
