//! `backprop export`: a saved model (`.safetensors`, or a book pickle with `--arch`) as an
//! ONNX file (`--onnx`) and/or a PyTorch `state_dict` with its `nn.Module` (`--torch DIR`).
//! The work is in [`crate::export`].

use std::path::PathBuf;

use clap::Args;

use crate::error::{Error, Result};
use crate::export::{onnx, torch};
use crate::float::Float;
use crate::io::import::parse_input_shape;
use crate::io::model_file;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The model: a .safetensors file written by `backprop train --save` or `import`, or a
    /// book parameter pickle (then --arch is needed).
    model: PathBuf,
    /// The architecture of a pickle: two-layer, multi-layer:H1,H2,…[:sigmoid|relu],
    /// simple-conv or deep-conv.
    #[arg(long)]
    arch: Option<crate::nets::Arch>,
    /// The input shape of a pickle's net, `C,H,W` [default: inferred from its weights].
    #[arg(long, value_name = "C,H,W", value_parser = parse_input_shape, requires = "arch")]
    input_shape: Option<[usize; 3]>,
    /// Write an ONNX model (opset 17; input `image`, outputs `logits` and `probabilities`).
    #[arg(long, value_name = "FILE.onnx")]
    onnx: Option<PathBuf>,
    /// Write model.safetensors (PyTorch state_dict names and layouts) and model.py (the
    /// torch.nn.Module that loads it) into this directory.
    #[arg(long, value_name = "DIR")]
    torch: Option<PathBuf>,
}

pub fn run(args: ExportArgs) -> Result<()> {
    if args.onnx.is_none() && args.torch.is_none() {
        return Err(Error::Invalid(
            "nothing to write: give --onnx FILE.onnx and/or --torch DIR".into(),
        ));
    }
    crate::io::Paths::new()
        .input("MODEL", Some(&args.model))
        .output("--onnx", args.onnx.as_deref())
        .output_dir("--torch", args.torch.as_deref(), torch::owns)
        .check()?;
    if let Some(dir) = &args.torch
        && torch::would_overwrite(dir, &args.model)
    {
        return Err(Error::Invalid(format!(
            "--torch {} would overwrite the input MODEL: write to another directory",
            dir.display()
        )));
    }
    crate::with_precision!(model_file::precision(&args.model)?, F => export::<F>(&args))
}

fn export<F: Float>(args: &ExportArgs) -> Result<()> {
    let mut model = model_file::load::<F>(&args.model, args.arch.as_ref(), args.input_shape)?;
    for w in &model.warnings {
        eprintln!("warning: {}", super::printable(w));
    }
    let what = format!(
        "{} ({}, input {:?}, {} classes)",
        args.model.display(),
        model.info.arch.name(),
        model.net.input_shape(),
        model.info.class_names.len()
    );
    if let Some(path) = &args.onnx {
        onnx::save(path, &mut model.net, &model.info)?;
        println!(
            "exported {what} as ONNX (opset {}) to {}",
            onnx::OPSET,
            path.display()
        );
    }
    if let Some(dir) = &args.torch {
        let (weights, module) = torch::save(dir, &mut model.net, &model.info)?;
        println!(
            "exported {what} for PyTorch to {} and {}",
            weights.display(),
            module.display()
        );
    }
    Ok(())
}
