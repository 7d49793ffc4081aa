//! `backprop data fetch|import|list`: getting MNIST and Fashion-MNIST into the cache.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use crate::data::datasets::{self, Known};
use crate::data::store;
use crate::error::Result;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Name {
    /// MNIST handwritten digits.
    Mnist,
    /// Zalando's Fashion-MNIST.
    FashionMnist,
}

impl From<Name> for Known {
    fn from(n: Name) -> Known {
        match n {
            Name::Mnist => Known::Mnist,
            Name::FashionMnist => Known::FashionMnist,
        }
    }
}

#[derive(Debug, Args)]
pub struct DataArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Download a dataset's four files from its mirrors into $BACKPROP_DATA/NAME or the user
    /// cache, verifying each against the published sha256.
    Fetch {
        /// Dataset to download.
        #[arg(value_enum)]
        name: Name,
        /// Base URL to download from instead of the published mirrors (also
        /// $BACKPROP_MIRROR); for testing and local mirrors.
        #[arg(long, hide = true, value_name = "URL")]
        mirror: Option<String>,
    },
    /// Verify local copies of a dataset's four files (raw or .gz) and copy them into
    /// $BACKPROP_DATA/NAME or the user cache.
    Import {
        /// Dataset the files are.
        #[arg(value_enum)]
        name: Name,
        /// Directory holding the four IDX files.
        dir: PathBuf,
    },
    /// Show each dataset, where it was found, and whether it matches the published checksums.
    List,
}

pub fn run(args: DataArgs) -> Result<()> {
    match args.action {
        Action::Fetch { name, mirror } => fetch(name.into(), mirror),
        Action::Import { name, dir } => {
            let known: Known = name.into();
            let dest = store::import(known, &dir)?;
            println!("{known}: imported and verified into {}", dest.display());
            Ok(())
        }
        Action::List => {
            println!("digits: embedded in the binary");
            for known in Known::ALL {
                match datasets::locate(known, None) {
                    Ok((source, dir)) => {
                        let status = match datasets::verify_dir(known, &dir) {
                            Ok(()) => "verified".to_string(),
                            Err(e) => format!("NOT verified: {e}"),
                        };
                        println!("{known}: {} ({source}): {status}", dir.display());
                    }
                    Err(_) => println!(
                        "{known}: not found; `backprop data fetch {known}` or `backprop data \
                         import {known} DIR`"
                    ),
                }
            }
            Ok(())
        }
    }
}

#[cfg(feature = "fetch")]
fn fetch(known: Known, mirror: Option<String>) -> Result<()> {
    use std::io::IsTerminal;

    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

    use crate::data::fetch::{FetchConfig, FetchEvent, fetch_into};

    let mut cfg = FetchConfig::for_known(known);
    if let Some(m) = mirror.or_else(|| std::env::var("BACKPROP_MIRROR").ok()) {
        cfg.mirrors = vec![m];
    }
    if let Some(ms) = std::env::var("BACKPROP_FETCH_BACKOFF_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        cfg.backoff = std::time::Duration::from_millis(ms);
    }
    let dest = datasets::install_dir(known)?;
    let terminal = std::io::stderr().is_terminal();
    let mut bar = ProgressBar::hidden();
    let mut on_event = |e: FetchEvent| match e {
        FetchEvent::Start { url, len } => {
            if terminal {
                bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template(
                        "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                    )
                    .expect("valid template"),
                );
                bar.set_message(url.rsplit('/').next().unwrap_or(url).to_string());
            }
        }
        FetchEvent::Progress(n) => bar.set_position(n),
        FetchEvent::Retry { url, error } => {
            bar.finish_and_clear();
            eprintln!("warning: {url}: {error}; retrying");
        }
        FetchEvent::Done(path) => {
            bar.finish_and_clear();
            eprintln!("{}: verified", path.display());
        }
    };
    let dir = fetch_into(known, &dest, &cfg, &mut on_event)?;
    println!("{known}: downloaded and verified into {}", dir.display());
    Ok(())
}

#[cfg(not(feature = "fetch"))]
fn fetch(known: Known, _mirror: Option<String>) -> Result<()> {
    Err(crate::error::Error::Invalid(format!(
        "this build has no downloader (built without the `fetch` feature); get the files \
         elsewhere and run `backprop data import {known} DIR`"
    )))
}
