//! `backprop import`: turn a parameter pickle written by the book's Python code into a
//! `.safetensors` model file, checking every name and shape against `--arch`.

use std::path::PathBuf;

use clap::Args;

use crate::error::Result;
use crate::io::import::parse_input_shape;
use crate::io::{model_file, safetensors};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The pickle (`params.pkl`, as the book's `save_params` writes it).
    file: PathBuf,
    /// Its architecture: two-layer, multi-layer:H1,H2,…[:sigmoid|relu], simple-conv or
    /// deep-conv.
    #[arg(long)]
    arch: crate::nets::Arch,
    /// The input shape `C,H,W` [default: inferred from the weights: 784 inputs → 1,28,28;
    /// a conv net's from its first Affine, trying 28×28 and 8×8 first].
    #[arg(long, value_name = "C,H,W", value_parser = parse_input_shape)]
    input_shape: Option<[usize; 3]>,
    /// The model file to write.
    #[arg(long)]
    out: PathBuf,
    /// The dataset name to record in the model (used by `eval` by default).
    #[arg(long)]
    dataset: Option<String>,
}

pub fn run(args: ImportArgs) -> Result<()> {
    crate::io::Paths::new()
        .input("FILE", Some(&args.file))
        .output("--out", Some(&args.out))
        .check()?;
    // The book's pickles hold float64 arrays; keep that precision.
    let mut model = model_file::load::<f64>(&args.file, Some(&args.arch), args.input_shape)?;
    for w in &model.warnings {
        eprintln!("warning: {}", super::printable(w));
    }
    if let Some(d) = args.dataset {
        model.info.dataset = d;
    }
    safetensors::save(&args.out, &mut model.net, &model.info)?;
    let names = model.net.param_names().join(" ");
    println!(
        "imported {} as {} ({} parameters: {names}; input {:?}, {} classes) into {}",
        args.file.display(),
        model.info.arch.name(),
        model.net.param_count(),
        model.info.image_shape,
        model.info.class_names.len(),
        args.out.display()
    );
    Ok(())
}
