//! `backprop show filters`: the first convolution layer's filters as a titled PNG grid, like
//! the book's `visualize_filter.py` (fig. 7-24); with `--fresh`, one picture with the filters
//! of the same architecture freshly initialised ("before training") beside the model's
//! ("after training").
//! `backprop show feature-maps`: those filters applied to one image (`apply_filter.py`),
//! before and after training.

use std::path::PathBuf;

use crate::error::Result;
use clap::{Args, Subcommand};

use crate::nets::Network;
use crate::report::feature_maps;
use crate::report::filters;

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, Subcommand)]
enum What {
    /// Write the first conv layer's filters (W1) as a titled PNG grid, 8 per row.
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
        /// Draw the filters of a freshly initialised copy of the architecture (seeded by
        /// --seed) beside the model's, as "before training" and "after training" panels of
        /// one picture (the book's fig. 7-24).
        #[arg(long)]
        fresh: bool,
        /// Seed of the fresh initialisation.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Apply the first conv layer's filters to one image and write each output map as a PNG
    /// grid, 8 per row (the book's apply_filter.py).
    #[command(group(clap::ArgGroup::new("input").required(true).args(["image", "idx"])))]
    FeatureMaps {
        /// The model: a .safetensors file, or a book pickle with --arch.
        #[arg(long)]
        model: PathBuf,
        /// The architecture of a pickle (simple-conv or deep-conv).
        #[arg(long)]
        arch: Option<crate::nets::Arch>,
        /// The image (PNG, JPEG or PGM), prepared as `predict` prepares it.
        image: Option<PathBuf>,
        /// An IDX images file instead of an image file: its image --index, as it is.
        #[arg(long, value_name = "FILE", requires = "index")]
        idx: Option<PathBuf>,
        /// Which image of the --idx file (from 0).
        #[arg(long, requires = "idx")]
        index: Option<usize>,
        /// Where to write the PNG.
        #[arg(long, default_value = "feature-maps.png")]
        out: PathBuf,
        /// Also write the maps of a freshly initialised copy of the architecture's filters to
        /// this file (seeded by --seed): the "before training" picture.
        #[arg(long)]
        fresh: Option<PathBuf>,
        /// Seed of the fresh initialisation.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

/// Writes the maps of `net`'s first-layer filters on the image and says so.
fn write_maps(
    net: &mut Network<f32>,
    pixels: &[f32],
    shape: [usize; 3],
    out: &std::path::Path,
    what: &str,
) -> Result<()> {
    let [n, h, w] = feature_maps::write_first_layer_maps(net, pixels, shape, out, what)?;
    println!(
        "{n} feature maps ({h}×{w}) of {what} written to {}",
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
                .check()?;
            let mut m = crate::io::model_file::load::<f32>(&model, arch.as_ref(), None)?;
            let name = model.display().to_string();
            let file_name = model
                .file_name()
                .map_or(name.clone(), |n| n.to_string_lossy().into_owned());
            let (png, count) =
                filters::model_filters_png(&mut m, &name, &file_name, fresh.then_some(seed))?;
            crate::io::write_atomic(&out, &png)?;
            println!(
                "{count} filters of {}{} written to {}",
                super::printable(&name),
                if fresh {
                    ", before and after training,"
                } else {
                    ""
                },
                out.display()
            );
            Ok(())
        }
        What::FeatureMaps {
            model,
            arch,
            image,
            idx,
            index,
            out,
            fresh,
            seed,
        } => {
            crate::io::Paths::new()
                .input("--model", Some(&model))
                .input("IMAGE", image.as_deref())
                .input("--idx", idx.as_deref())
                .output("--out", Some(&out))
                .output("--fresh", fresh.as_deref())
                .check()?;
            let mut m = crate::io::model_file::load::<f32>(&model, arch.as_ref(), None)?;
            let (h, w) = crate::predict::grey_input(&m.info, &model)?;
            let pixels = match (&image, &idx, index) {
                (Some(path), _, _) => {
                    let p = crate::predict::prepare_image(path, &m.info, &model)?;
                    if p.inverted {
                        println!("{}: light background, inverted", path.display());
                    }
                    p.pixels
                }
                (None, Some(path), Some(i)) => crate::predict::idx_image(path, i, h, w)?,
                _ => unreachable!("clap requires an image or --idx with --index"),
            };
            let shape = [1, h, w];
            write_maps(
                &mut m.net,
                &pixels,
                shape,
                &out,
                &model.display().to_string(),
            )?;
            if let Some(path) = fresh {
                let mut net = filters::fresh_network(&m.info, seed)?;
                write_maps(&mut net, &pixels, shape, &path, "a fresh initialisation")?;
            }
            Ok(())
        }
    }
}
