//! Chapter 6 on the command line: optimizers, multi-layer nets, plots and the experiments.

mod common;

use common::{backprop, scratch, stderr, stdout};

#[test]
fn multi_layer_with_adam_batch_norm_dropout_and_decay_learns_and_plots() {
    let svg = scratch("train").join("train.svg");
    let o = backprop(&[
        "train",
        "--model",
        "multi-layer",
        "--hidden",
        "50,50",
        "--optimizer",
        "adam",
        "--batch-norm",
        "--dropout",
        "0.1",
        "--weight-decay",
        "0.001",
        "--epochs",
        "8",
        "--json",
        "--plot",
        svg.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let last: serde_json::Value = serde_json::from_str(stdout(&o).lines().last().unwrap()).unwrap();
    assert!(last["test_acc"].as_f64().unwrap() > 0.85, "{last}");
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("<svg") && text.contains("epochs"));
}

#[test]
fn train_names_its_optimizer_and_default_learning_rate() {
    let o = backprop(&["train", "--optimizer", "rmsprop", "--iters", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("RMSprop lr 0.01"), "{}", stdout(&o));
    let o = backprop(&["train", "--iters", "1"]);
    assert!(stdout(&o).contains("SGD lr 0.1"), "{}", stdout(&o));
}

#[test]
fn bad_chapter_6_arguments_exit_2() {
    for args in [
        &["train", "--batch-norm"][..],
        &["train", "--hidden", "10,10"],
        &["train", "--optimizer", "adamw"],
        &["train", "--init", "glorot"],
        &["train", "--model", "multi-layer", "--dropout", "1.0"],
        &["train", "--plot", "curves.jpg"],
        &["experiment", "optimizers", "--trials", "3"],
        &["experiment", "nope"],
    ] {
        let o = backprop(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("error"), "{args:?}");
    }
}

#[test]
fn weight_decay_experiment_prints_the_books_lines_json_and_a_png() {
    let png = scratch("wd").join("wd.png");
    let o = backprop(&[
        "experiment",
        "weight-decay",
        "--dataset",
        "digits",
        "--epochs",
        "4",
        "--plot",
        png.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("epoch:3, train acc:"), "{out}");
    assert_eq!(&std::fs::read(&png).unwrap()[..4], b"\x89PNG");
    let o = backprop(&[
        "experiment",
        "weight-decay",
        "--dataset",
        "digits",
        "--epochs",
        "4",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["experiment"], "weight-decay");
    assert_eq!(v["dataset"], "digits");
    assert_eq!(v["final"].as_array().unwrap().len(), 2);
}

#[test]
fn experiments_default_to_the_embedded_digits_on_a_fresh_machine() {
    // No MNIST anywhere backprop looks: empty $BACKPROP_DATA, cache and home.
    let empty = scratch("fresh-machine");
    let run = |extra: &[&str]| {
        let mut args = vec!["experiment", "init", "--iters", "5", "--json"];
        args.extend(extra);
        common::backprop_command()
            .args(&args)
            .env("BACKPROP_DATA", &empty)
            .env("XDG_CACHE_HOME", &empty)
            .env("HOME", &empty)
            .output()
            .unwrap()
    };
    let o = run(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["dataset"], "digits", "{v}");
    // The same run as with the dataset named.
    let named = run(&["--dataset", "digits"]);
    assert_eq!(stdout(&o), stdout(&named));
    // --help states one default for --dataset, the one used.
    let help = stdout(&backprop(&["experiment", "--help"]));
    let dataset = help
        .split("--dataset <DATASET>")
        .nth(1)
        .and_then(|s| s.split("\n      --").next())
        .unwrap();
    assert_eq!(dataset.matches("default:").count(), 1, "{dataset}");
    assert!(dataset.contains("[default: digits"), "{dataset}");
}
