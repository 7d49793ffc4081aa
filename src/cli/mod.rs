//! The `backprop` command line: argument parsing and output, over the library.
//!
//! Exit codes: 0 success, 1 runtime failure, 2 usage error, 3 divergence, 130 interrupted.

mod args;
mod bench;
mod data;
mod eval;
mod experiment;
mod export;
mod gradcheck;
mod graph;
mod import;
#[cfg(feature = "lab")]
mod lab;
mod predict;
mod show;
mod train;

use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::error::Error;

/// Backpropagation from *Deep Learning from Scratch*, chapter 5 onward.
#[derive(Debug, Parser)]
#[command(name = "backprop", version, about, long_about = None)]
pub struct Cli {
    /// Threads for large matrix products and layers (1 = single-threaded; at most 4 per
    /// core). Results agree across thread counts up to floating-point reassociation.
    #[arg(long, global = true, default_value = "1", value_parser = args::thread_count)]
    threads: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train a network and report train/test accuracy after every epoch.
    Train(Box<train::TrainArgs>),
    /// Compare backprop gradients with numerical ones (the book's gradient_check.py).
    Gradcheck(gradcheck::GradcheckArgs),
    /// Measure training steps/s and GEMM throughput on this machine.
    Bench(bench::BenchArgs),
    /// Get, import and check MNIST and Fashion-MNIST (`data fetch|import|list`).
    Data(data::DataArgs),
    /// Draw a computation graph with its forward and backward values (the book's apples, or
    /// any expression).
    Graph(graph::GraphArgs),
    /// Run one of the chapter-6 experiments and print the book's lines.
    Experiment(experiment::ExperimentArgs),
    /// Evaluate a saved model: accuracy, per-class accuracy, confusion matrix, mistakes.
    Eval(eval::EvalArgs),
    /// Convert a parameter pickle written by the book's Python code into a model file.
    Import(import::ImportArgs),
    /// Write a saved model as ONNX (`--onnx`) or as a PyTorch state_dict and module
    /// (`--torch`).
    Export(export::ExportArgs),
    /// Classify image files (or one image of an IDX file) with a saved model: top classes.
    Predict(predict::PredictArgs),
    /// Pictures of a model: `show filters` writes the first conv layer's filters as a PNG.
    Show(show::ShowArgs),
    /// Start the lab, a local web app: step through a graph's backward pass, check each
    /// layer's gradients, watch a network train (http://127.0.0.1:8000/ by default).
    #[cfg(feature = "lab")]
    Lab(lab::LabArgs),
}

/// Where a command's products and layers run, for the thread pool `--threads` sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Work {
    /// On the main thread, which joins the pool ([`crate::parallel::use_threads`]).
    Here,
    /// On threads the command starts (the lab's runs), which the pool serves
    /// ([`crate::parallel::use_threads_elsewhere`]).
    Elsewhere,
}

impl Command {
    /// Where the command runs products or layers that `--threads` may split, if it does: the
    /// others (graphs, data files, imports, filter pictures) start no thread pool.
    fn parallel_work(&self) -> Option<Work> {
        match self {
            Command::Train(_)
            | Command::Gradcheck(_)
            | Command::Bench(_)
            | Command::Experiment(_)
            | Command::Eval(_)
            | Command::Predict(_) => Some(Work::Here),
            #[cfg(feature = "lab")]
            Command::Lab(_) => Some(Work::Elsewhere),
            Command::Data(_)
            | Command::Graph(_)
            | Command::Import(_)
            | Command::Export(_)
            | Command::Show(_) => None,
        }
    }
}

/// Exit code for a runtime failure.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code for bad arguments.
pub const EXIT_USAGE: u8 = 2;
/// Exit code for a diverged training run.
pub const EXIT_DIVERGED: u8 = 3;
/// Exit code for a run stopped by SIGINT or SIGTERM (128 + SIGINT).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Lets SIGPIPE end the process quietly, as it does other Unix tools.
///
/// Rust's runtime ignores SIGPIPE, so writing to a closed pipe (`backprop eval … | head`)
/// becomes an error that `println!` turns into a panic. With the default disposition the
/// kernel ends the process at the first write after the reader has gone, which is what a
/// pipeline expects.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing on the main thread, before any other thread exists; setting
    // a signal's disposition to SIG_DFL installs no handler code.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// The ids of the arguments of the subcommand `name` given on the command line (not
/// defaults, nor the groups clap adds) in its `matches`.
fn given(name: &str, matches: Option<&ArgMatches>) -> Vec<String> {
    let Some(m) = matches else {
        return Vec::new();
    };
    let mut cli = Cli::command();
    cli.build();
    let Some(command) = cli.find_subcommand(name) else {
        return Vec::new();
    };
    command
        .get_arguments()
        .map(|a| a.get_id().as_str())
        .filter(|id| m.value_source(id) == Some(ValueSource::CommandLine))
        .map(String::from)
        .collect()
}

/// Parses the process arguments, runs the command and returns its exit code.
pub fn run() -> ExitCode {
    restore_sigpipe();
    // Parsed through the matches, which also tell which flags were given (`train --resume`
    // refuses those that contradict the checkpoint, but not defaults).
    let parsed = Cli::command().try_get_matches().and_then(|m| {
        Cli::from_arg_matches(&m)
            .map(|cli| (cli, m))
            .map_err(|e| e.format(&mut Cli::command()))
    });
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            // clap prints help and version to stdout (exit 0) and errors to stderr (exit 2).
            if let Err(io) = e.print() {
                eprintln!("error: {}", stdout_error(io));
                return ExitCode::from(EXIT_FAILURE);
            }
            return ExitCode::from(e.exit_code() as u8);
        }
    };
    // An unknown or unsupported BACKPROP_SIMD is a usage error, before any work is done.
    if let Err(e) = crate::cpu::from_env() {
        eprintln!("error: {e}");
        return ExitCode::from(EXIT_USAGE);
    }
    // Likewise an unknown BACKPROP_KERNEL.
    #[cfg(target_arch = "x86_64")]
    if let Err(e) = crate::linalg::plan::from_env() {
        eprintln!("error: {e}");
        return ExitCode::from(EXIT_USAGE);
    }
    if std::env::var_os("BACKPROP_NO_MALLOPT").is_none() {
        crate::alloc::keep_freed_memory();
    }
    match cli.command.parallel_work() {
        Some(Work::Here) => crate::parallel::use_threads(cli.threads),
        Some(Work::Elsewhere) => crate::parallel::use_threads_elsewhere(cli.threads),
        None => {}
    }
    let result = catching_stdout_errors(|| match cli.command {
        Command::Train(a) => train::run(*a, &given("train", matches.subcommand_matches("train"))),
        Command::Show(a) => show::run(a),
        Command::Gradcheck(a) => gradcheck::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Data(a) => data::run(a),
        Command::Graph(a) => graph::run(a),
        Command::Experiment(a) => experiment::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Import(a) => import::run(a),
        Command::Export(a) => export::run(a),
        Command::Predict(a) => predict::run(a),
        #[cfg(feature = "lab")]
        Command::Lab(a) => lab::run(a),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Interrupted(msg)) => {
            eprintln!("interrupted: {msg}");
            ExitCode::from(EXIT_INTERRUPTED)
        }
        Err(e) => {
            eprintln!("error: {}", printable(&advice(&e)));
            ExitCode::from(match e {
                Error::Invalid(_) | Error::TooLarge(_) => EXIT_USAGE,
                Error::Needs { fix, .. } if fix.is_usage() => EXIT_USAGE,
                Error::Diverged(_) => EXIT_DIVERGED,
                _ => EXIT_FAILURE,
            })
        }
    }
}

/// What to try after a failed training ([`crate::eval::Failure`]), in flags of `backprop
/// train` (the library's [`crate::eval::Failure::SUGGESTIONS`] says it in words).
pub(crate) const FAILURE_ADVICE: &str = "try a smaller --lr (too large a rate throws the \
     weights out of the valley), more --epochs, --optimizer adam, --init he or --batch-norm";

/// The error line: the library's account of what happened (its errors name no flags), with
/// which flag to change or give.
fn advice(e: &Error) -> String {
    use crate::error::Fix;
    let msg = e.to_string();
    match e {
        Error::Diverged(_) => format!("{msg}; try a lower --lr or --batch-norm"),
        Error::TooLarge(_) => format!("{msg} (--hidden, --batch-size)"),
        Error::Needs { fix, .. } => match fix {
            Fix::Arch => format!(
                "{msg}: pass --arch (two-layer, multi-layer:H1,H2,…, simple-conv or deep-conv)"
            ),
            Fix::InputShape => format!("{msg}; pass --input-shape C,H,W"),
            Fix::OtherCheckpointDir => {
                format!("{msg}: wait for it to end or give another --checkpoint-dir")
            }
            Fix::Values(names) => {
                let sets: Vec<String> = names
                    .iter()
                    .take(10)
                    .map(|n| format!("--set {n}=VALUE"))
                    .collect();
                format!("{msg}: add {}", sets.join(" "))
            }
            Fix::NoSuchName(name) => format!("--set {name}=…: {msg}"),
            Fix::Longer {
                wanted,
                done,
                per_epoch,
            } => {
                let (unit, n, per_unit) = match *wanted {
                    crate::train::Length::Epochs(e) => ("epochs", e, *per_epoch),
                    crate::train::Length::Iters(n) => ("iters", n, 1),
                };
                let per = if per_unit > 1 {
                    format!(" ({per_unit} steps per epoch)")
                } else {
                    String::new()
                };
                format!(
                    "--{unit} {n} ends before the checkpoint's step {done}{per}: give at least \
                     --{unit} {}",
                    done.div_ceil(per_unit)
                )
            }
            Fix::Dataset { dir, found, wanted } => format!(
                "{} holds {found}, which conflicts with --dataset {wanted}",
                dir.display()
            ),
            Fix::Setting(refusal) => setting_advice(refusal),
            Fix::NotTaken(n) => format!(
                "{} does not apply to this experiment",
                experiment::flag(n.setting)
            ),
        },
        _ => msg,
    }
}

/// The flag that gives an architecture's `setting` (`train`'s and `gradcheck`'s).
fn setting_flag(setting: crate::nets::Setting) -> &'static str {
    use crate::nets::Setting;
    match setting {
        Setting::Hidden => "--hidden",
        Setting::Activation => "--activation",
        Setting::Init => "--init",
        Setting::BatchNorm => "--batch-norm",
        Setting::Dropout => "--dropout",
        Setting::WeightDecay => "--weight-decay",
        Setting::Filters => "--filters",
        Setting::FilterSize => "--filter-size",
    }
}

/// A refused architecture setting, in flags.
fn setting_advice(refusal: &crate::nets::Refusal) -> String {
    use crate::nets::{Defaults, Refusal};
    match refusal {
        Refusal::MultiLayerOnly { model } => format!(
            "--batch-norm, --dropout and --weight-decay need --model multi-layer, not {model}"
        ),
        Refusal::NotForModel { setting, model } => {
            format!(
                "{} does not apply to --model {model}",
                setting_flag(*setting)
            )
        }
        Refusal::OneHidden {
            model,
            hidden,
            defaults: Defaults::Training,
        } => format!("{model} takes one hidden size, got {hidden:?}; use --model multi-layer"),
        Refusal::OneHidden { model, hidden, .. } => format!(
            "--model {model} has one hidden layer, got --hidden {}",
            crate::run::sizes(hidden)
        ),
        Refusal::StdOnly { init } => format!("this model takes --init std:<σ>, got {init}"),
        Refusal::AlwaysHe => refusal.to_string(),
    }
}

/// What `println!` panics with when stdout cannot be written, before the I/O error.
const STDOUT_FAILURE: &str = "failed printing to stdout: ";

/// The error `println!` reported in a panic `payload`, if that is what the panic was.
fn stdout_failure(payload: &(dyn std::any::Any + Send)) -> Option<&str> {
    let msg = match payload.downcast_ref::<String>() {
        Some(s) => s.as_str(),
        None => *payload.downcast_ref::<&str>()?,
    };
    msg.strip_prefix(STDOUT_FAILURE)
}

/// A failed write to stdout as the error the command ends with (exit 1).
fn stdout_error(e: impl std::fmt::Display) -> Error {
    Error::io("stdout", std::io::Error::other(e.to_string()))
}

/// Runs `command`, turning a failed write to stdout into an error instead of a panic.
///
/// The commands print with `println!`, which panics when stdout cannot be written (a full
/// disk: `backprop graph apple > /dev/full`); that panic is caught here, kept out of the panic
/// hook's report, and becomes `error: stdout: …` with exit 1. A closed pipe never gets here:
/// SIGPIPE ends the process first ([`restore_sigpipe`]). Whatever is left in stdout's buffer is
/// flushed at the end, so that its failure is reported too.
fn catching_stdout_errors(command: impl FnOnce() -> Result<(), Error>) -> Result<(), Error> {
    use std::io::Write;
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if stdout_failure(info.payload()).is_none() {
            report(info);
        }
    }));
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(command)) {
        Ok(result) => result.and_then(|()| std::io::stdout().flush().map_err(stdout_error)),
        Err(payload) => match stdout_failure(&*payload) {
            Some(e) => Err(stdout_error(e)),
            None => std::panic::resume_unwind(payload),
        },
    }
}

/// `s` with its control characters other than line breaks escaped as Rust writes them
/// (`\u{1b}`, `\r`), for text that comes from a file (class names, tensor names in errors):
/// a file must not be able to send escape sequences to the terminal.
pub(crate) fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() && c != '\n' {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::Init;
    use crate::nets::{Defaults, Refusal, Setting};

    /// An experiment's refused setting is worded with its flag, as before the library took
    /// the check over.
    #[test]
    fn settings_an_experiment_does_not_take_are_worded_in_flags() {
        use crate::experiments::{Experiment, NotTaken, Setting};
        for (setting, words) in [
            (
                Setting::Trials,
                "--trials does not apply to this experiment",
            ),
            (Setting::Data, "--data does not apply to this experiment"),
        ] {
            let e = Error::from(NotTaken {
                experiment: Experiment::OptimizerPaths,
                setting,
            });
            assert_eq!(advice(&e), words);
        }
    }

    /// The refusals of an architecture's settings are worded in flags as before the library
    /// took them over.
    #[test]
    fn refused_settings_are_worded_in_flags() {
        let cases = [
            (
                Refusal::MultiLayerOnly { model: "two-layer" },
                "--batch-norm, --dropout and --weight-decay need --model multi-layer, not \
                 two-layer",
            ),
            (
                Refusal::OneHidden {
                    model: "simple-conv",
                    hidden: vec![3, 4],
                    defaults: Defaults::Training,
                },
                "simple-conv takes one hidden size, got [3, 4]; use --model multi-layer",
            ),
            (
                Refusal::OneHidden {
                    model: "two-layer",
                    hidden: vec![10, 10],
                    defaults: Defaults::GradientCheck,
                },
                "--model two-layer has one hidden layer, got --hidden 10,10",
            ),
            (
                Refusal::StdOnly { init: Init::He },
                "this model takes --init std:<σ>, got he",
            ),
            (
                Refusal::AlwaysHe,
                "deep-conv is always He-initialised, as in the book",
            ),
            (
                Refusal::NotForModel {
                    setting: Setting::FilterSize,
                    model: "multi-layer",
                },
                "--filter-size does not apply to --model multi-layer",
            ),
            (
                Refusal::NotForModel {
                    setting: Setting::Activation,
                    model: "two-layer",
                },
                "--activation does not apply to --model two-layer",
            ),
        ];
        for (refusal, words) in cases {
            let e = Error::from(refusal);
            assert_eq!(advice(&e), words);
            assert!(matches!(e, Error::Needs { ref fix, .. } if fix.is_usage()));
        }
    }
}
