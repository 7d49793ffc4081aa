//! `backprop show filters`: the first convolution layer's filters as a PNG grid, like the
//! book's `visualize_filter.py` (fig. 7-24), for a trained model and, with `--fresh`, for the
//! same architecture freshly initialised (the "before" picture).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use ndarray::Ix4;

use crate::error::{Error, Result};

use crate::nets::Network;
use crate::report::filters::FilterGrid;
use crate::rng::Rng;

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, Subcommand)]
enum What {
    /// Write the first conv layer's filters (W1) as a PNG grid, 8 per row.
    Filters {
        /// The model: a .safetensors file, or a book pickle with --arch.
        #[arg(long)]
        model: PathBuf,
        /// The architecture of a pickle (simple-conv or deep-conv).
        #[arg(long)]
        arch: Option<crate::nets::Arch>,
        /// Where to write the PNG.
        #[arg(long, default_value = "filters.png")]
        out: PathBuf,
        /// Also write the filters of a freshly initialised copy of the architecture to this
        /// file (seeded by --seed), for the book's before/after comparison.
        #[arg(long)]
        fresh: Option<PathBuf>,
        /// Seed of the fresh initialisation.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

fn write_filters(net: &mut Network<f32>, out: &std::path::Path, what: &str) -> Result<()> {
    let params = net.params();
    let w = params
        .first()
        .and_then(|p| p.value.view().into_dimensionality::<Ix4>().ok())
        .ok_or_else(|| {
            Error::Invalid(format!(
                "{what} has no convolution layer: its W1 is not 4-D"
            ))
        })?;
    FilterGrid::default().write_png(w, out)?;
    println!(
        "{} filters of {what} written to {}",
        w.dim().0,
        out.display()
    );
    Ok(())
}

pub fn run(args: ShowArgs) -> Result<()> {
    match args.what {
        What::Filters {
            model,
            arch,
            out,
            fresh,
            seed,
        } => {
            crate::io::Paths::new()
                .input("--model", Some(&model))
                .output("--out", Some(&out))
                .output("--fresh", fresh.as_deref())
                .check()?;
            let mut m = crate::io::model_file::load::<f32>(&model, arch.as_ref(), None)?;
            write_filters(&mut m.net, &out, &model.display().to_string())?;
            if let Some(path) = fresh {
                let info = &m.info;
                let mut net: Network<f32> = info.arch.build(
                    info.image_shape,
                    info.class_names.len(),
                    &mut Rng::stream(seed, "init"),
                )?;
                write_filters(&mut net, &path, "a fresh initialisation")?;
            }
            Ok(())
        }
    }
}
