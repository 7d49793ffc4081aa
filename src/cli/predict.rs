//! `backprop predict`: the top classes of image files (PNG, JPEG, PGM), or of one image of an
//! IDX file, under a saved model (or a book pickle with `--arch`).

use std::path::{Path, PathBuf};

use clap::{ArgGroup, Args};

use super::args::positive_usize;
use crate::error::Result;
use crate::float::Float;
use crate::io::import::parse_input_shape;
use crate::io::model_file;
use crate::io::safetensors::LoadedModel;
use crate::predict::{self, Prediction, PredictionRecord, Source};

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("input").required(true).args(["images", "idx"])))]
pub struct PredictArgs {
    /// The model: a .safetensors file, or a book parameter pickle (then --arch is needed).
    #[arg(long)]
    model: PathBuf,
    /// The architecture of a pickle: two-layer, multi-layer:H1,H2,…[:sigmoid|relu],
    /// simple-conv or deep-conv.
    #[arg(long)]
    arch: Option<crate::nets::Arch>,
    /// The input shape of a pickle's net, `C,H,W` [default: inferred from its weights].
    #[arg(long, value_name = "C,H,W", value_parser = parse_input_shape, requires = "arch")]
    input_shape: Option<[usize; 3]>,
    /// Image files to classify: each is made to look like an MNIST digit first (grey,
    /// inverted if its background is light, fitted and centred in the model's frame).
    #[arg(value_name = "IMAGE")]
    images: Vec<PathBuf>,
    /// An IDX images file: classify its image --index as it is (bytes / 255).
    #[arg(
        long,
        value_name = "FILE",
        requires = "index",
        conflicts_with = "images"
    )]
    idx: Option<PathBuf>,
    /// Which image of the --idx file (from 0).
    #[arg(long, requires = "idx")]
    index: Option<usize>,
    /// The IDX labels file that goes with --idx, to print the true label too.
    #[arg(long, value_name = "FILE", requires = "idx")]
    labels: Option<PathBuf>,
    /// How many classes to list.
    #[arg(long, default_value = "3", value_parser = positive_usize)]
    top: usize,
    /// Print one JSON object per image instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: PredictArgs) -> Result<()> {
    crate::with_precision!(model_file::precision(&args.model)?, F => run_as::<F>(args))
}

fn run_as<F: Float>(args: PredictArgs) -> Result<()> {
    if args.index.is_some() && args.idx.is_none() {
        return Err(crate::error::Error::Invalid(
            "--index selects an image of an --idx file: pass --idx FILE".into(),
        ));
    }
    let mut model = model_file::load::<F>(&args.model, args.arch.as_ref(), args.input_shape)?;
    for w in &model.warnings {
        eprintln!("warning: {}", super::printable(w));
    }
    let (h, w) = predict::grey_input(&model.info, &args.model)?;
    if let (Some(file), Some(index)) = (&args.idx, args.index) {
        let pixels = predict::idx_image(file, index, h, w)?;
        let label = match &args.labels {
            Some(l) => Some(predict::idx_label(
                l,
                file,
                index,
                model.info.class_names.len(),
            )?),
            None => None,
        };
        let p = predict::classify(&mut model.net, &model.info, &pixels);
        let src = Source::Idx {
            file: file.clone(),
            index,
            label,
        };
        report(&args, &model, &src, &p);
    }
    for file in &args.images {
        let prepared = predict::prepare_image(file, &model.info, &args.model)?;
        let p = predict::classify(&mut model.net, &model.info, &prepared.pixels);
        let src = Source::Image {
            file: file.clone(),
            original_size: prepared.original_size,
            inverted: prepared.inverted,
        };
        report(&args, &model, &src, &p);
    }
    Ok(())
}

fn report<F: Float>(args: &PredictArgs, model: &LoadedModel<F>, src: &Source, p: &Prediction) {
    let names = &model.info.class_names;
    // JSON escapes control characters itself; text gets them escaped by `printable`.
    let raw = |c: usize| names.get(c).cloned().unwrap_or_else(|| c.to_string());
    let name = |c: usize| super::printable(&raw(c));
    let top = p.top(args.top);
    if args.json {
        let record = PredictionRecord::new(src, p, args.top, names);
        println!(
            "{}",
            serde_json::to_string(&record).expect("a record serialises")
        );
        return;
    }
    let (index, label, inverted, original_size) = match *src {
        Source::Idx { index, label, .. } => (Some(index), label, None, None),
        Source::Image {
            original_size,
            inverted,
            ..
        } => (None, None, Some(inverted), Some(original_size)),
    };
    let mut head = display(src.file());
    if let Some(i) = index {
        head += &format!(" [{i}]");
    }
    let mut notes = Vec::new();
    if let Some((w, h)) = original_size {
        notes.push(format!("{w}×{h}"));
    }
    if inverted == Some(true) {
        notes.push("light background: inverted".to_string());
    }
    if let Some(l) = label {
        notes.push(format!("label {}", name(l)));
    }
    if !notes.is_empty() {
        head += &format!(" ({})", notes.join(", "));
    }
    println!("{head}: {}", name(top[0].0));
    let width = top
        .iter()
        .map(|&(c, _)| name(c).chars().count())
        .max()
        .unwrap_or(1)
        .max("class".len());
    println!("  {:<width$}  probability", "class");
    for (c, pr) in top {
        println!("  {:<width$}  {:.4}", name(c), pr);
    }
}

fn display(p: &Path) -> String {
    p.display().to_string()
}
