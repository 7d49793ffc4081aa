//! `backprop eval`: accuracy, per-class accuracy, confusion matrix and the first
//! misclassified test images of a saved model (`.safetensors`, or a book pickle with
//! `--arch`), like the book's `misclassified_mnist.py`.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::args::{DataArgs, DatasetName, positive_usize};
use crate::error::Result;
use crate::eval::{Evaluation, evaluate_model};
use crate::float::Float;
use crate::io::import::parse_input_shape;
use crate::io::model_file;
use crate::io::safetensors::LoadedModel;
use crate::run::DataSpec;

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The model: a .safetensors file written by `backprop train --save` or `import`, or a
    /// book parameter pickle (then --arch is needed).
    #[arg(long)]
    model: PathBuf,
    /// The architecture of a pickle: two-layer, multi-layer:H1,H2,…[:sigmoid|relu],
    /// simple-conv or deep-conv.
    #[arg(long)]
    arch: Option<crate::nets::Arch>,
    /// The input shape of a pickle's net, `C,H,W` [default: inferred from its weights].
    #[arg(long, value_name = "C,H,W", value_parser = parse_input_shape, requires = "arch")]
    input_shape: Option<[usize; 3]>,
    /// Dataset to evaluate on [default: the one the model records, else digits].
    #[arg(long, value_enum)]
    dataset: Option<DatasetName>,
    /// A directory holding the four IDX files to evaluate on.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Seed of the train/test split [default: the one the model was trained with, else 42].
    #[arg(long)]
    seed: Option<u64>,
    /// How many misclassified test images to list.
    #[arg(long, default_value_t = 20)]
    misclassified: usize,
    /// Samples per forward pass.
    #[arg(long, default_value_t = crate::train::EVAL_BATCH, value_parser = positive_usize)]
    batch_size: usize,
    /// Also evaluate with every weight and input rounded to f16 (the book's
    /// half_float_network.py), next to the model's own precision.
    #[arg(long)]
    half: bool,
    /// Draw the first --misclassified mistakes as a grid of images captioned with label and
    /// prediction (the book's misclassified_mnist.py) into this .png or .svg file.
    #[arg(long, value_name = "FILE.png|.svg", value_parser = super::args::plot_path)]
    out: Option<PathBuf>,
    /// Write the test images, their labels and the network's test-mode scores (the book's
    /// predict, before softmax) into this .safetensors file, to check another runtime (an
    /// exported ONNX model) against backprop.
    #[arg(long, value_name = "FILE.safetensors")]
    scores: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: EvalArgs) -> Result<()> {
    crate::with_precision!(model_file::precision(&args.model)?, F => run_as::<F>(args))
}

fn run_as<F: Float>(args: EvalArgs) -> Result<()> {
    crate::io::Paths::new()
        .input("--model", Some(&args.model))
        .output("--out", args.out.as_deref())
        .output("--scores", args.scores.as_deref())
        .check()?;
    let mut model = model_file::load::<F>(&args.model, args.arch.as_ref(), args.input_shape)?;
    for w in &model.warnings {
        eprintln!("warning: {}", super::printable(w));
    }
    // The flags (refused together: --data with --dataset digits) over the model's record.
    let given = DataArgs {
        dataset: args.dataset,
        data: args.data.clone(),
        seed: 0,
    }
    .spec()?;
    let data = DataSpec::of_model(
        &model.info,
        given.dataset.as_deref(),
        given.dir.as_deref(),
        args.seed,
    );
    let m = evaluate_model(
        &mut model,
        &args.model,
        &data,
        args.batch_size,
        args.misclassified,
        args.half,
        args.scores.as_deref(),
    )?;
    let (test, e, half) = (&m.test, &m.evaluation, m.half.as_ref());
    if args.json {
        print_json(&args, &model, &data, &test.name, e, half);
    } else {
        print_text(&args, &model, &data, &test.name, e);
        if let Some(h) = half {
            println!(
                "test accuracy with weights and inputs rounded to f16: {:.4} ({}/{}), {:+.4} \
                 against {}",
                h.accuracy(),
                h.correct(),
                h.total(),
                h.accuracy() - e.accuracy(),
                model.dtype
            );
        }
    }
    if let Some(path) = &args.out {
        let grid = crate::report::mistakes::MistakeGrid::new(test, &e.misclassified);
        crate::report::canvas::save(&grid, path)?;
        if !args.json {
            println!(
                "{} misclassified images drawn in {}",
                e.misclassified.len(),
                path.display()
            );
        }
    }
    Ok(())
}

fn print_json<F: Float>(
    args: &EvalArgs,
    model: &LoadedModel<F>,
    data: &DataSpec,
    dataset: &str,
    e: &Evaluation,
    half: Option<&Evaluation>,
) {
    let per_class: Vec<_> = e
        .per_class()
        .iter()
        .map(|&(c, n)| {
            json!({"correct": c, "samples": n,
                   "accuracy": if n == 0 { None } else { Some(c as f64 / n as f64) }})
        })
        .collect();
    let mis: Vec<_> = e
        .misclassified
        .iter()
        .map(|&(i, l, p)| json!({"index": i, "label": l, "prediction": p}))
        .collect();
    println!(
        "{}",
        json!({
            "model": args.model.display().to_string(),
            "arch": model.info.arch.to_json(),
            "dtype": model.dtype,
            "dataset": dataset,
            "seed": data.seed,
            "samples": e.total(),
            "correct": e.correct(),
            "accuracy": e.accuracy(),
            "per_class": per_class,
            "confusion": e.confusion,
            "misclassified": mis,
            "half": half.map(|h| json!({
                "samples": h.total(),
                "correct": h.correct(),
                "accuracy": h.accuracy(),
            })),
            "failure": e.failure().map(|f| f.describe(&model.info.class_names)),
            "warnings": model.warnings,
        })
    );
}

fn print_text<F: Float>(
    args: &EvalArgs,
    model: &LoadedModel<F>,
    data: &DataSpec,
    dataset: &str,
    e: &Evaluation,
) {
    println!(
        "model {} ({}, {}) on the {} test set (seed {}): {} samples",
        args.model.display(),
        model.info.arch.name(),
        model.dtype,
        dataset,
        data.seed,
        e.total()
    );
    println!(
        "test accuracy: {:.4} ({}/{})",
        e.accuracy(),
        e.correct(),
        e.total()
    );
    if let Some(f) = e.failure() {
        println!(
            "warning: {}",
            super::printable(&f.describe(&model.info.class_names))
        );
        println!("  retrain: {}", super::FAILURE_ADVICE);
    }
    println!("per-class accuracy:");
    for (c, (ok, n)) in e.per_class().into_iter().enumerate() {
        let acc = if n == 0 {
            "   -  ".to_string()
        } else {
            format!("{:.4}", ok as f64 / n as f64)
        };
        println!("  {c:>3}  {acc}  ({ok}/{n})");
    }
    println!("confusion matrix (rows: label, columns: prediction):");
    let width = e
        .confusion
        .iter()
        .flatten()
        .map(|n| n.to_string().len())
        .max()
        .unwrap_or(1)
        .max(e.confusion.len().to_string().len());
    print!("  {:>3} ", "");
    for c in 0..e.confusion.len() {
        print!(" {c:>width$}");
    }
    println!();
    for (c, row) in e.confusion.iter().enumerate() {
        print!("  {c:>3} ");
        for n in row {
            print!(" {n:>width$}");
        }
        println!();
    }
    println!(
        "======= misclassified result (first {}: {{index: (label, prediction)}}) =======",
        args.misclassified
    );
    let items: Vec<String> = e
        .misclassified
        .iter()
        .map(|&(i, l, p)| format!("{i}: ({l}, {p})"))
        .collect();
    println!("{{{}}}", items.join(", "));
}
