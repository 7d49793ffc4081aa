//! `backprop gradcheck`: the book's `ch05/gradient_check.py`.

use clap::Args;

use super::args::{DataArgs, positive_usize};
use crate::error::Result;
use crate::functions::Targets;
use crate::gradient::{H, mean_abs_diff};
use crate::nets::TwoLayerNet;
use crate::pyfmt::py_repr;
use crate::rng::Rng;

#[derive(Debug, Args)]
pub struct GradcheckArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Hidden units of the TwoLayerNet.
    #[arg(long, default_value = "50", value_parser = positive_usize)]
    hidden: usize,
    /// Samples in the checked batch.
    #[arg(long, default_value = "3", value_parser = positive_usize)]
    samples: usize,
    /// Print one JSON object instead of `name:value` lines.
    #[arg(long)]
    json: bool,
}

pub fn run(args: GradcheckArgs) -> Result<()> {
    let data = args.data.load()?;
    let train = &data.train;
    super::args::require_samples(train, "training")?;
    let n = args.samples.min(train.len());
    let mut labels = Vec::new();
    let x = train.batch::<f64>(
        &(0..n).collect::<Vec<_>>(),
        crate::data::Layout::Flat,
        &mut labels,
    );
    // The numerical gradient keeps one copy of each parameter besides its gradient.
    let arch = crate::nets::Arch::TwoLayer {
        hidden: args.hidden,
        weight_init_std: 0.01,
    };
    arch.check_training_fits(train.image_shape, train.num_classes(), n, 8, 1)?;
    let mut net = TwoLayerNet::<f64>::new(
        train.sample_size(),
        args.hidden,
        train.num_classes(),
        0.01,
        &mut Rng::stream(args.data.seed, "init"),
    );
    let t = Targets::Labels(&labels);
    let numerical = net.numerical_gradient(&x, t, H);
    net.gradient(x, t);
    let diffs: Vec<(String, f64)> = net
        .params()
        .iter()
        .zip(&numerical)
        .map(|(p, (name, num))| (name.clone(), mean_abs_diff(&p.grad.to_owned(), num)))
        .collect();
    if args.json {
        let fields: Vec<String> = diffs
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}:{}",
                    serde_json::Value::from(k.as_str()),
                    serde_json::Value::from(*v)
                )
            })
            .collect();
        println!("{{{}}}", fields.join(","));
    } else {
        for (k, v) in diffs {
            println!("{k}:{}", py_repr(v));
        }
    }
    Ok(())
}
