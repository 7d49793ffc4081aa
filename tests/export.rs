//! `backprop export`: ONNX files and PyTorch state_dicts of every architecture.
//!
//! * The ONNX file read back with prost: graph, initialisers (the model's weights under
//!   their book names), input/output names, metadata.
//! * The round trip: onnx's checker and onnxruntime (PyPI) against `backprop eval --scores`
//!   on the digits test set for every architecture (and the book's pickles), and on the
//!   MNIST test set when it is installed: probabilities within 1e-5, logits within
//!   1e-5 · max(1, largest |score|), the same argmax on every image; and both logits within
//!   that bound of a float64 evaluation of the graph (to say which side is off when they
//!   differ: neither, on every architecture, see the figures this test prints).
//!   Needs python3 with onnx, onnxruntime, numpy and safetensors; skipped with a note where
//!   they are missing unless `BACKPROP_REQUIRE_PYTHON=1` (CI), which makes that a failure.
//! * `--torch`: the state_dict names, shapes and dtypes that model.py's modules have under
//!   PyTorch's documented rules (a stub torch, tests/export/stub_torch), against the file.
//! * Bad input: clear errors, nothing written.

mod common;

use std::path::{Path, PathBuf};

use backprop::data::datasets::{self, Known};
use backprop::export::onnx;
use backprop::io::model_file;
use common::{backprop, fixture, run_ok, scratch, stderr};
use serde_json::Value;

const PYTHON_LIBS: &str = "import onnx, onnxruntime, numpy, safetensors.numpy";

/// Whether python3 has onnx and onnxruntime; panics instead under BACKPROP_REQUIRE_PYTHON=1.
fn python_ready() -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", PYTHON_LIBS])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("BACKPROP_REQUIRE_PYTHON").as_deref() != Ok("1"),
            "BACKPROP_REQUIRE_PYTHON=1 but `python3 -c \"{PYTHON_LIBS}\"` fails \
             (pip install onnx onnxruntime numpy safetensors)"
        );
        eprintln!("note: skipped: python3 with onnx, onnxruntime, numpy, safetensors is missing");
    }
    ok
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/export")
        .join(name)
}

/// Runs a checker script of tests/export and returns the JSON object it printed.
fn run_script(name: &str, args: &[&Path]) -> Value {
    let o = std::process::Command::new("python3")
        .arg(script(name))
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(o.status.success(), "{name}: {}", stderr_of(&o));
    serde_json::from_slice(&o.stdout).expect("the script prints JSON")
}

fn stderr_of(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The architectures, as `train` flags.
const ARCHS: [(&str, &[&str]); 6] = [
    ("two-layer", &["--model", "two-layer"]),
    (
        "multi-layer-relu",
        &["--model", "multi-layer", "--hidden", "40,30"],
    ),
    (
        "multi-layer-sigmoid",
        &[
            "--model",
            "multi-layer",
            "--hidden",
            "40,30",
            "--activation",
            "sigmoid",
        ],
    ),
    (
        "multi-layer-bn-dropout",
        &[
            "--model",
            "multi-layer",
            "--hidden",
            "40,30",
            "--batch-norm",
            "--dropout",
            "0.2",
        ],
    ),
    ("simple-conv", &["--model", "simple-conv"]),
    ("deep-conv", &["--model", "deep-conv"]),
];

/// Trains `arch` briefly (Adam, so that even a few steps give a net that ranks classes).
fn train(dir: &Path, name: &str, arch: &[&str], data: &[&str], iters: &str) -> PathBuf {
    let model = dir.join(format!("{name}.safetensors"));
    let mut args = vec!["train"];
    args.extend(arch);
    args.extend(data);
    args.extend(["--optimizer", "adam", "--lr", "0.003", "--iters", iters]);
    args.extend(["--eval-every", iters, "--eval-samples", "200", "--json"]);
    args.extend(["--save", model.to_str().unwrap()]);
    run_ok(&args);
    model
}

/// Exports `model` (with `extra` flags), scores it with `eval --scores` (with `eval_flags`)
/// and checks onnxruntime against the scores and the torch export against its module.
fn round_trip(dir: &Path, label: &str, model: &Path, extra: &[&str], eval_flags: &[&str]) {
    let onnx_path = dir.join(format!("{label}.onnx"));
    let scores = dir.join(format!("{label}-scores.safetensors"));
    let torch_dir = dir.join(format!("{label}-torch"));
    let m = model.to_str().unwrap();
    let mut args = vec!["export", m, "--onnx", onnx_path.to_str().unwrap()];
    args.extend(["--torch", torch_dir.to_str().unwrap()]);
    args.extend(extra);
    run_ok(&args);
    let mut args = vec!["eval", "--model", m, "--scores", scores.to_str().unwrap()];
    args.extend(extra);
    args.extend(eval_flags);
    run_ok(&args);
    let r = run_script("onnx_check.py", &[&onnx_path, &scores]);
    let n = r["samples"].as_u64().unwrap();
    let diff = r["max_abs_diff"].as_f64().unwrap();
    let pdiff = r["max_abs_diff_probabilities"].as_f64().unwrap();
    let agree = r["argmax_agree"].as_u64().unwrap();
    let largest = r["max_abs_score"].as_f64().unwrap();
    let (ort_err, eval_err) = (
        r["onnxruntime_vs_f64"].as_f64().unwrap(),
        r["eval_vs_f64"].as_f64().unwrap(),
    );
    eprintln!(
        "figure: {label}: {n} test images, max |logits − eval scores| = {diff:.3e} \
         (largest |score| {largest:.1}), max |probabilities − softmax| = {pdiff:.3e}, \
         argmax agrees on {agree}/{n}, accuracy {:.4}; against float64: onnxruntime \
         {ort_err:.3e}, eval {eval_err:.3e} (onnx {}, onnxruntime {})",
        r["accuracy"], r["onnx"], r["onnxruntime"]
    );
    assert!(n > 0);
    // 1e-5 absolute, or relative where scores exceed 1: one f32 rounding step (ulp) of a
    // score of 64 is 7.6e-6, and the two libraries sum a layer's products in different
    // orders, so scores beyond ±1 can differ by a few ulps.
    assert!(
        diff <= 1e-5 * largest.max(1.0),
        "{label}: max abs diff {diff} (largest score {largest})"
    );
    assert!(pdiff <= 1e-5, "{label}: probabilities differ by {pdiff}");
    // Neither float32 computation is off: each is as close to the float64 evaluation of the
    // same graph (NumPy, onnx_check.py's `reference`) as the bound above.
    for (who, err) in [("onnxruntime", ort_err), ("eval", eval_err)] {
        assert!(
            err <= 1e-5 * largest.max(1.0),
            "{label}: {who} differs from float64 by {err} (largest score {largest})"
        );
    }
    assert_eq!(agree, n, "{label}: argmax differs");
    assert_eq!(r["opset"], serde_json::json!([onnx::OPSET]));
    assert_eq!(r["outputs"]["logits"][0], "N");
    assert!(r["inputs"]["image"].is_array());
    let meta = &r["metadata"];
    let classes: Vec<String> = serde_json::from_str(meta["class_names"].as_str().unwrap()).unwrap();
    assert_eq!(
        classes.len() as u64,
        r["outputs"]["logits"][1].as_u64().unwrap()
    );

    let t = run_script("torch_check.py", &[&torch_dir, &scores]);
    assert_eq!(
        t["file"].as_object().unwrap().len(),
        t["module"].as_object().unwrap().len()
    );
    for (key, entry) in t["module"].as_object().unwrap() {
        assert_eq!(&t["file"][key], entry, "{label}: state_dict entry {key}");
    }
    assert_eq!(t["class_names"], serde_json::json!(classes));
    if let Some(torch) = t.get("torch") {
        eprintln!("figure: {label}: PyTorch {torch}");
        // The same bound as onnxruntime's, for the same reason (a different summation order).
        for key in ["max_abs_diff", "torch_vs_f64", "eval_vs_torch_f64"] {
            let err = torch[key].as_f64().unwrap();
            assert!(
                err <= 1e-5 * largest.max(1.0),
                "{label}: PyTorch {key} = {err} (largest score {largest})"
            );
        }
        assert_eq!(torch["argmax_agree"], torch["samples"]);
    }
}

#[test]
fn onnx_round_trip_on_digits_for_every_architecture() {
    if !python_ready() {
        return;
    }
    let dir = scratch("digits");
    for (name, arch) in ARCHS {
        // DeepConvNet is slow unoptimised: fewer steps.
        let iters = if name == "deep-conv" { "15" } else { "150" };
        let model = train(&dir, name, arch, &[], iters);
        round_trip(&dir, &format!("digits {name}"), &model, &[], &[]);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn onnx_round_trip_of_the_books_pickles() {
    if !python_ready() {
        return;
    }
    let dir = scratch("pickles");
    for (file, arch) in [
        ("multi_layer.pkl", "multi-layer:12,8"),
        ("multi_layer_bn.pkl", "multi-layer:10,6:sigmoid"),
        ("deep_conv.pkl", "deep-conv"),
    ] {
        let label = format!("pickle {file}");
        round_trip(&dir, &label, &fixture(file), &["--arch", arch], &[]);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn onnx_round_trip_on_mnist_for_every_architecture() {
    let found = datasets::locate(Known::Mnist, None);
    if let Err(e) = &found {
        if std::env::var("BACKPROP_REQUIRE_DATA").is_ok_and(|v| v == "1") {
            panic!("BACKPROP_REQUIRE_DATA=1 but mnist is missing: {e}");
        }
        eprintln!("note: skipping, mnist is not installed ({e})");
        return;
    }
    if !python_ready() {
        return;
    }
    let dir = scratch("mnist");
    for (name, arch) in ARCHS {
        let iters = if name == "deep-conv" { "5" } else { "60" };
        let model = train(&dir, name, arch, &["--dataset", "mnist"], iters);
        // The whole MNIST test set (10,000 images).
        round_trip(
            &dir,
            &format!("mnist {name}"),
            &model,
            &[],
            &["--dataset", "mnist"],
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The ONNX file read back with prost: nodes in the layers' order, the weights as
/// initialisers under their book names with the model's values, the named input and
/// outputs, and the metadata.
#[test]
fn onnx_file_holds_the_graph_weights_and_metadata() {
    let dir = scratch("structure");
    let model = dir.join("bn.safetensors");
    run_ok(&[
        "train",
        "--model",
        "multi-layer",
        "--hidden",
        "12,6",
        "--batch-norm",
        "--dropout",
        "0.25",
        "--iters",
        "20",
        "--eval-every",
        "20",
        "--save",
        model.to_str().unwrap(),
    ]);
    let out = dir.join("bn.onnx");
    let printed = run_ok(&[
        "export",
        model.to_str().unwrap(),
        "--onnx",
        out.to_str().unwrap(),
    ]);
    assert!(printed.contains("as ONNX (opset 17)"), "{printed}");
    let m = onnx::load(&out).unwrap();
    assert_eq!((m.ir_version, m.opset_import[0].version), (8, 17));
    assert_eq!(m.producer_name, "backprop");
    let g = m.graph.as_ref().unwrap();
    let ops: Vec<&str> = g.node.iter().map(|n| n.op_type.as_str()).collect();
    assert_eq!(
        ops,
        [
            "Gemm",
            "BatchNormalization",
            "Relu",
            "Mul",
            "Gemm",
            "BatchNormalization",
            "Relu",
            "Mul",
            "Gemm",
            "Softmax"
        ]
    );
    // Each node reads the one before it; the first the input, the last two give the outputs.
    assert_eq!(g.node[0].input[0], "image");
    for pair in g.node[..9].windows(2) {
        assert_eq!(pair[1].input[0], pair[0].output[0]);
    }
    assert_eq!(g.node[8].output, ["logits"]);
    assert_eq!(g.node[9].input, ["logits"]);
    assert_eq!(g.node[9].output, ["probabilities"]);
    // Batch norm: the book's ε; dropout: the test-mode scale 1 − 0.25.
    let eps = g.node[1]
        .attribute
        .iter()
        .find(|a| a.name == "epsilon")
        .unwrap();
    assert_eq!(eps.f, 1e-6f32);
    let scale = g
        .initializer
        .iter()
        .find(|t| t.name == g.node[3].input[1])
        .unwrap();
    assert_eq!(onnx::float_values(scale), [0.75]);
    // Every tensor of the model, under its name, with its values and shape.
    let mut loaded = model_file::load::<f32>(&model, None, None).unwrap();
    let mut expected: Vec<(String, Vec<usize>, Vec<f32>)> = loaded
        .net
        .params()
        .iter()
        .map(|p| {
            (
                p.name.to_string(),
                p.value.shape().to_vec(),
                p.value.iter().copied().collect(),
            )
        })
        .collect();
    expected.extend(
        loaded
            .net
            .buffers()
            .iter()
            .map(|(n, v)| (n.clone(), v.shape().to_vec(), v.iter().copied().collect())),
    );
    assert_eq!(expected.len(), 14);
    for (name, shape, values) in &expected {
        let t = g
            .initializer
            .iter()
            .find(|t| &t.name == name)
            .unwrap_or_else(|| panic!("{name}"));
        let dims: Vec<usize> = t.dims.iter().map(|&d| d as usize).collect();
        assert_eq!(&dims, shape, "{name}");
        assert_eq!(&onnx::float_values(t), values, "{name}");
    }
    let bn = &g.node[1].input;
    assert_eq!(
        bn[1..],
        ["gamma1", "beta1", "running_mean1", "running_var1"]
    );
    assert_eq!(g.node[0].input[1..], ["W1", "b1"]);
    // Input [N, 64] with N symbolic; outputs [N, 10].
    use backprop::export::onnx_proto::{tensor_shape_proto::dimension::Value as Dim, type_proto};
    let dims = |v: &backprop::export::onnx_proto::ValueInfoProto| -> Vec<String> {
        let Some(type_proto::Value::TensorType(t)) = &v.r#type.as_ref().unwrap().value else {
            panic!("not a tensor")
        };
        t.shape
            .as_ref()
            .unwrap()
            .dim
            .iter()
            .map(|d| match d.value.as_ref().unwrap() {
                Dim::DimParam(p) => p.clone(),
                Dim::DimValue(v) => v.to_string(),
            })
            .collect()
    };
    assert_eq!(
        (g.input[0].name.as_str(), dims(&g.input[0])),
        ("image", vec!["N".into(), "64".into()])
    );
    assert_eq!(g.output[0].name, "logits");
    assert_eq!(dims(&g.output[1]), ["N", "10"]);
    let meta: std::collections::HashMap<&str, &str> = m
        .metadata_props
        .iter()
        .map(|p| (p.key.as_str(), p.value.as_str()))
        .collect();
    assert_eq!(
        meta["class_names"],
        r#"["0","1","2","3","4","5","6","7","8","9"]"#
    );
    assert_eq!(meta["input_shape"], "[64]");
    assert_eq!(meta["image_shape"], "[1,8,8]");
    assert_eq!(meta["dataset"], "digits");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--torch`: nn.Linear's weight is the book's W transposed; conv filters keep their layout.
#[test]
fn torch_state_dict_has_pytorch_layouts() {
    let dir = scratch("torch-layout");
    let model = dir.join("sc.safetensors");
    run_ok(&[
        "train",
        "--model",
        "simple-conv",
        "--iters",
        "3",
        "--eval-every",
        "3",
        "--eval-samples",
        "10",
        "--save",
        model.to_str().unwrap(),
    ]);
    let out = dir.join("t");
    run_ok(&[
        "export",
        model.to_str().unwrap(),
        "--torch",
        out.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(out.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let f32s = |name: &str| -> (Vec<usize>, Vec<f32>) {
        let t = st.tensor(name).unwrap();
        let v = t
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        (t.shape().to_vec(), v)
    };
    let w = common::weights(&model);
    let get = |n: &str| w.iter().find(|(k, _)| k == n).unwrap().1.clone();
    let (shape, conv) = f32s("Conv1.weight");
    assert_eq!(shape, [30, 1, 5, 5]);
    assert_eq!(conv, get("W1"));
    let (shape, lin) = f32s("Affine1.weight");
    let (i, o) = (30 * 2 * 2, 100);
    assert_eq!(shape, [o, i]);
    let w2 = get("W2");
    for r in [0, 7, i - 1] {
        for c in [0, 3, o - 1] {
            assert_eq!(lin[c * i + r], w2[r * o + c]);
        }
    }
    assert_eq!(f32s("Affine2.bias").1, get("b3"));
    let source = std::fs::read_to_string(out.join("model.py")).unwrap();
    assert!(
        source.contains("(\"Conv1\", nn.Conv2d(1, 30, (5, 5), stride=1, padding=0)),"),
        "{source}"
    );
    assert!(
        source.contains("(\"Pool1\", nn.MaxPool2d((2, 2), stride=2)),"),
        "{source}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_is_refused_with_the_file_named() {
    let dir = scratch("bad");
    let onnx_out = dir.join("out.onnx");
    let out = onnx_out.to_str().unwrap();
    // Nothing to write: a usage error.
    let o = backprop(&[
        "export",
        fixture("two_layer.pkl").to_str().unwrap(),
        "--arch",
        "two-layer",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("give --onnx FILE.onnx and/or --torch DIR"),
        "{}",
        stderr(&o)
    );
    // A missing model.
    let missing = dir.join("nope.safetensors");
    let o = backprop(&["export", missing.to_str().unwrap(), "--onnx", out]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nope.safetensors"), "{}", stderr(&o));
    // Not a model.
    let junk = dir.join("junk.safetensors");
    std::fs::write(&junk, b"not a model at all").unwrap();
    let o = backprop(&["export", junk.to_str().unwrap(), "--onnx", out]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("junk.safetensors"), "{}", stderr(&o));
    // A pickle without its architecture.
    let pkl = fixture("two_layer.pkl");
    let o = backprop(&["export", pkl.to_str().unwrap(), "--onnx", out]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("--arch"), "{}", stderr(&o));
    // Weights that do not fit the architecture.
    let o = backprop(&[
        "export",
        fixture("multi_layer_bad.pkl").to_str().unwrap(),
        "--arch",
        "multi-layer:12,8",
        "--onnx",
        out,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("multi_layer_bad.pkl"), "{}", stderr(&o));
    // An output in a missing directory, and the model itself as the output.
    let o = backprop(&[
        "export",
        pkl.to_str().unwrap(),
        "--arch",
        "two-layer",
        "--onnx",
        dir.join("no/such/dir/x.onnx").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no/such/dir"), "{}", stderr(&o));
    let copy = dir.join("two_layer.pkl");
    std::fs::copy(&pkl, &copy).unwrap();
    let c = copy.to_str().unwrap();
    let o = backprop(&["export", c, "--arch", "two-layer", "--onnx", c]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("would overwrite the input"),
        "{}",
        stderr(&o)
    );
    // --torch at a file.
    let o = backprop(&["export", c, "--arch", "two-layer", "--torch", c]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("two_layer.pkl"), "{}", stderr(&o));
    // Nothing was written by any of them; a good export then works.
    assert!(!onnx_out.exists());
    run_ok(&["export", c, "--arch", "two-layer", "--onnx", out]);
    assert!(onnx::load(&onnx_out).is_ok());
    // A file that is not ONNX, read back.
    let e = onnx::load(&junk).unwrap_err().to_string();
    assert!(
        e.contains("junk.safetensors") && e.contains("not an ONNX model"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The architectures [`exports_are_the_bytes_main_wrote`] exports, with their image shapes:
/// every variant, batch norm and dropout, a non-square multi-channel image, padding and
/// stride other than the book's.
fn byte_archs() -> Vec<(backprop::nets::Arch, [usize; 3])> {
    use backprop::nets::Arch;
    let arch = |s: &str| s.parse::<Arch>().unwrap();
    let edit = |s: &str, f: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut v = arch(s).to_json();
        f(v.as_object_mut().unwrap());
        Arch::from_json(&v).unwrap()
    };
    vec![
        (arch("two-layer"), [1, 28, 28]),
        (arch("multi-layer:20,10:sigmoid"), [3, 5, 4]),
        (
            edit("multi-layer:12,9,6", &|m| {
                m.insert("batch_norm".into(), true.into());
                m.insert("dropout".into(), 0.25.into());
            }),
            [1, 8, 8],
        ),
        (arch("simple-conv"), [1, 28, 28]),
        (
            edit("simple-conv", &|m| {
                m.insert("filter_num".into(), 4.into());
                m.insert("filter_size".into(), 3.into());
                m.insert("pad".into(), 1.into());
                m.insert("stride".into(), 2.into());
                m.insert("hidden".into(), 11.into());
            }),
            [3, 10, 12],
        ),
        (arch("deep-conv"), [1, 28, 28]),
    ]
}

/// Export reads its shapes from the architecture's plan: the ONNX file and the PyTorch
/// `model.safetensors` and `model.py` of every architecture are byte for byte what main
/// (b8ab942, where export read them off the built layers) wrote for the same network. The
/// network takes one training step first so that batch norm's running statistics are not
/// their initial values. The hashes are SHA-256 of the files written by that commit.
#[test]
fn exports_are_the_bytes_main_wrote() {
    use backprop::export::torch;
    use backprop::functions::Targets;
    use backprop::io::safetensors::ModelInfo;
    use sha2::{Digest, Sha256};
    // [ONNX, model.safetensors, model.py] per architecture of byte_archs().
    let expected: [[&str; 3]; 6] = [
        // two-layer
        [
            "27f51ec73497ef4555752dae0af8f2115ca1671996c7ad65867176690f3124ee",
            "b678ad1fbc0af040917e156ee5d4942e67fd585f094ff3b35d21da0e66c881c2",
            "81e5fe5f9b95d6194dd5757d7e15fa15634f45293aa76426d6f6b19a8a29b4fb",
        ],
        // multi-layer sigmoid 3×5×4
        [
            "e299d989600feaae0b4bdcc80fb69127ed5514b16726049dfb5047edbe3e9b3a",
            "f39f0f57c72a9e79249353275765127adc64a4086eaaa3d75dcf8d2488c0f7ba",
            "679338eb1bde218d5f6c15ff41327ad1563baffc643f9d80e7ec162a183af5fb",
        ],
        // multi-layer batch norm, dropout
        [
            "d0401f7ac8d3a2afe320f56b339030a01235aa172a33a622e3520f222b1049fd",
            "f5798b96e2defb0096f5fe417f96ae525bed8c21ca26200622f95eb6588e9523",
            "5c3a4c536a45ce385df2fbf7c78f7a6dcbda577b7ec376f533dbec53919046aa",
        ],
        // simple-conv
        [
            "70595ff4d84acb065baf50c936882c4ab72489e5c59ddbaf3c7fa677ea5543db",
            "fe0d8efb9b2c087c64ee8fa37adb271fe2032014259f42edb3b11de9e0adb5d2",
            "032387ef0f39a83bd3194f53ea53ae67ea57e442cfed8f2db40cf7d29be31bf4",
        ],
        // simple-conv 4 filters 3×3, pad 1, stride 2, on 3×10×12
        [
            "e796a9b5b38f158f1f1a8bfaa86d82113e5ccb737b23a054b8c5f557aa983a26",
            "aa9177fe59b1f3c6d178ba4900fbfdf2cbaeab92d9a249bba096200d7693af1b",
            "fe1fd9337a2cc78a24b7b55e2d17108b258bbbd8af0949ef5b33798b52c9bc9b",
        ],
        // deep-conv
        [
            "b740db415d6583ed50e839e38db7945dfb083785639c968fa00f7868d7634357",
            "f91b3f0bc45ec91671aad8779316db6de66c3b5b9ee204f4e65612033e79d3e6",
            "e408fcd98e10964679fa23442e5bb843782bca1ef7f643f8e1521e00da6cd549",
        ],
    ];
    let hex = |b: &[u8]| {
        Sha256::digest(b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    };
    let dir = scratch("bytes");
    let mut got = Vec::new();
    for (i, (arch, shape)) in byte_archs().into_iter().enumerate() {
        let classes = 5;
        let mut net = arch
            .build::<f32>(shape, classes, &mut backprop::rng::Rng::new(3 + i as u64))
            .unwrap();
        let mut dims = vec![4];
        dims.extend(net.input_shape());
        let n: usize = dims.iter().product();
        let x = ndarray::ArrayD::from_shape_vec(
            dims,
            (0..n).map(|j| ((j * 37 % 101) as f32) / 101.0).collect(),
        )
        .unwrap();
        net.gradient(x, Targets::Labels(&[0, 1, 2, 4]));
        let info = ModelInfo {
            arch: arch.clone(),
            image_shape: shape,
            class_names: (0..classes).map(|c| format!("c{c}")).collect(),
            dataset: "test".into(),
            train_config: serde_json::json!({}),
        };
        let onnx = onnx::to_bytes(&mut net, &info).unwrap();
        let out = dir.join(i.to_string());
        let (weights, module) = torch::save(&out, &mut net, &info).unwrap();
        let row = [
            hex(&onnx),
            hex(&std::fs::read(weights).unwrap()),
            hex(&std::fs::read(module).unwrap()),
        ];
        got.push(row);
    }
    let got_ref: Vec<[&str; 3]> = got
        .iter()
        .map(|r| [r[0].as_str(), r[1].as_str(), r[2].as_str()])
        .collect();
    assert_eq!(got_ref, expected, "{got:#?}");
}
