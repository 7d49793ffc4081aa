//! `backprop gradcheck`: the book's gradient checks, `ch05/gradient_check.py` (TwoLayerNet),
//! `ch06/batch_norm_gradient_check.py` (MultiLayerNetExtend with batch norm) and
//! `ch07/gradient_check.py` (SimpleConvNet on a random 1×10×10 image), for every
//! architecture `train` knows. The work is [`crate::gradient::check_arch`].

use clap::Args;

use super::args::{DataArgs, Sizes, hidden_sizes, named, parsed, positive_usize};
use super::train::{ACTIVATIONS, MODELS};
use crate::error::Result;
use crate::gradient::{check_arch, one_sample_batch_norm};
use crate::init::Init;
use crate::nets::{Activation, Arch, ArchSettings, Defaults};
use crate::pyfmt::py_repr;

#[derive(Debug, Args)]
pub struct GradcheckArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The architecture, with the book's gradient-check settings as defaults.
    #[arg(long, default_value = "two-layer", value_parser = named(MODELS))]
    model: &'static str,
    /// Hidden units: one number, or a comma-separated list for multi-layer [default: 50 for
    /// two-layer and deep-conv, 100,100 for multi-layer, 10 for simple-conv].
    #[arg(long, value_parser = hidden_sizes)]
    hidden: Option<Sizes>,
    /// Batch norm after each hidden Affine (multi-layer).
    #[arg(long)]
    batch_norm: bool,
    /// Hidden activation (multi-layer) [default: relu].
    #[arg(long, value_parser = named(ACTIVATIONS))]
    activation: Option<Activation>,
    /// Initial weights (multi-layer): std:<number>, xavier or he [default: he, the book's].
    #[arg(long, value_parser = parsed::<Init>)]
    init: Option<Init>,
    /// Filters of simple-conv's convolution [default: 10, as ch07/gradient_check.py].
    #[arg(long, value_parser = positive_usize)]
    filters: Option<usize>,
    /// Filter side of simple-conv [default: 3, as ch07/gradient_check.py].
    #[arg(long, value_parser = positive_usize)]
    filter_size: Option<usize>,
    /// Samples in the checked batch [default: the book's: 3 for two-layer, 1 for
    /// multi-layer and simple-conv, 2 for deep-conv].
    #[arg(long, value_parser = positive_usize)]
    samples: Option<usize>,
    /// Print one JSON object instead of `name:value` lines.
    #[arg(long)]
    json: bool,
}

/// The architecture the flags describe, with the book's check settings as defaults.
fn arch(args: &GradcheckArgs) -> Result<Arch> {
    ArchSettings {
        hidden: args.hidden.clone().map(|h| h.0),
        activation: args.activation,
        init: args.init,
        batch_norm: args.batch_norm,
        filters: args.filters,
        filter_size: args.filter_size,
        ..ArchSettings::new(args.model, Defaults::GradientCheck)
    }
    .arch()
}

pub fn run(args: GradcheckArgs) -> Result<()> {
    let arch = arch(&args)?;
    // simple-conv without data flags checks the book's random 1×10×10 image.
    let book_image =
        args.model == "simple-conv" && args.data.dataset.is_none() && args.data.data.is_none();
    let data = if book_image {
        None
    } else {
        Some(args.data.spec()?)
    };
    let check = check_arch(&arch, data.as_ref(), args.samples, args.data.seed)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&check).expect("a record serialises")
        );
    } else {
        for (k, v) in &check.diffs {
            println!("{k}:{}", py_repr(*v));
        }
        if check.is_one_sample_batch_norm() {
            eprintln!("note: {}", one_sample_batch_norm("--samples"));
        }
    }
    Ok(())
}
