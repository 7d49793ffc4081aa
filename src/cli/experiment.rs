//! `backprop experiment <name>`: the chapter-6 experiments, printing the book's lines,
//! optionally drawing the book's figure (`--plot`) or printing the numbers as JSON (`--json`).

use clap::Args;

use super::args::{DataArgs, PlotArgs, parsed, positive_usize};
use crate::error::Result;
use crate::experiments::activations::Squash;
use crate::experiments::{self, Experiment, Setting, Settings};
use crate::init::Init;

/// The data is [`DataArgs`]' default, as for `train`: the embedded digits, which every
/// machine has (the book ran these on MNIST: `--dataset mnist`).
#[derive(Debug, Args)]
pub struct ExperimentArgs {
    /// Which experiment.
    #[arg(value_enum)]
    name: Experiment,
    #[command(flatten)]
    data: DataArgs,
    /// Training steps (optimizers, init) [default: 2000].
    #[arg(long, value_parser = positive_usize)]
    iters: Option<usize>,
    /// Epochs (batch-norm, weight-decay, dropout, hyperparams) [default: the book's].
    #[arg(long, value_parser = positive_usize)]
    epochs: Option<usize>,
    /// Training samples to use, the first of the set [default: the book's; all for
    /// optimizers and init].
    #[arg(long, value_parser = positive_usize)]
    samples: Option<usize>,
    /// Random trials (hyperparams) [default: 100].
    #[arg(long, value_parser = positive_usize)]
    trials: Option<usize>,
    /// The activation of `activations`: sigmoid, relu or tanh [default: sigmoid].
    #[arg(long, value_parser = parsed::<Squash>)]
    activation: Option<Squash>,
    /// The weight scale of `activations`: std:1, std:0.01, xavier or he [default: std:1].
    #[arg(long, value_parser = parsed::<Init>)]
    init: Option<Init>,
    /// Print the numbers as one JSON object instead of the book's lines.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    plot: PlotArgs,
}

/// The flag that gives an experiment's `setting`.
pub(super) fn flag(setting: Setting) -> &'static str {
    match setting {
        Setting::Iters => "--iters",
        Setting::Epochs => "--epochs",
        Setting::Trials => "--trials",
        Setting::Activation => "--activation",
        Setting::Init => "--init",
        Setting::Samples => "--samples",
        Setting::Dataset => "--dataset",
        Setting::Data => "--data",
    }
}

pub fn run(args: ExperimentArgs) -> Result<()> {
    let experiment = args.name;
    let settings = Settings {
        iters: args.iters,
        epochs: args.epochs,
        samples: args.samples,
        trials: args.trials,
        activation: args.activation,
        init: args.init,
    };
    // Flags the experiment does not take are refused before anything else is looked at.
    experiment.check(&settings, &args.data.source())?;
    let data_files = args.data.files();
    crate::io::Paths::new()
        .inputs("--data", data_files.iter().map(std::path::PathBuf::as_path))
        .output("--plot", args.plot.plot.as_deref())
        .check()?;
    let json = args.json;
    let finished = experiments::run(experiment, &settings, &args.data.spec()?, &mut |line| {
        if !json {
            println!("{line}");
        }
    })?;
    if json {
        println!("{}", finished.json);
    }
    if let Some(path) = &args.plot.plot {
        finished.picture.save(path)?;
        if !json {
            println!("plot written to {}", path.display());
        }
    }
    Ok(())
}
