//! `backprop eval`: accuracy, per-class accuracy, confusion matrix and the first
//! misclassified test images of a saved model (`.safetensors`, or a book pickle with
//! `--arch`), like the book's `misclassified_mnist.py`.

use std::path::PathBuf;

use clap::Args;

use super::args::{DataArgs, DatasetName, positive_usize};
use crate::error::Result;
use crate::eval::evaluate_model;
use crate::float::Float;
use crate::io::import::parse_input_shape;
use crate::io::model_file;
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
    let (test, e) = (&m.test, &m.evaluation);
    if args.json {
        let record = m.record(&args.model, &model, data.seed);
        println!(
            "{}",
            serde_json::to_string(&record).expect("a record serialises")
        );
    } else {
        println!(
            "model {} ({}, {}) on the {} test set (seed {}): {} samples",
            args.model.display(),
            model.info.arch.name(),
            model.dtype,
            test.name,
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
        print!("{}", e.text(args.misclassified));
        if let Some(h) = &m.half {
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
