//! The `backprop` command line: argument parsing and output, over the library.
//!
//! Exit codes: 0 success, 1 runtime failure, 2 usage error, 3 divergence.

mod args;
mod eval;
mod gradcheck;
mod import;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::Error;

/// Backpropagation from *Deep Learning from Scratch*, chapter 5 onward.
#[derive(Debug, Parser)]
#[command(name = "backprop", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train a network and report train/test accuracy after every epoch.
    Train(train::TrainArgs),
    /// Compare backprop gradients with numerical ones (the book's gradient_check.py).
    Gradcheck(gradcheck::GradcheckArgs),
    /// Evaluate a saved model: accuracy, per-class accuracy, confusion matrix, mistakes.
    Eval(eval::EvalArgs),
    /// Convert a parameter pickle written by the book's Python code into a model file.
    Import(import::ImportArgs),
}

/// Exit code for a runtime failure.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code for bad arguments.
pub const EXIT_USAGE: u8 = 2;
/// Exit code for a diverged training run.
pub const EXIT_DIVERGED: u8 = 3;

/// Parses the process arguments, runs the command and returns its exit code.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version to stdout (exit 0) and errors to stderr (exit 2).
            let _ = e.print();
            return ExitCode::from(e.exit_code() as u8);
        }
    };
    let result = match cli.command {
        Command::Train(a) => train::run(a),
        Command::Gradcheck(a) => gradcheck::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Import(a) => import::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(match e {
                Error::Invalid(_) => EXIT_USAGE,
                Error::Diverged(_) => EXIT_DIVERGED,
                _ => EXIT_FAILURE,
            })
        }
    }
}
