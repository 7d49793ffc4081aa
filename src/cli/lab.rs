//! `backprop lab`: starts the local web app of [`crate::lab`] and prints its URL.

use std::net::IpAddr;

use clap::Args;

use crate::error::Result;
use crate::lab::{LabOptions, serve};

#[derive(Debug, Args)]
pub struct LabArgs {
    /// Port to listen on (0 picks a free one; the URL printed says which).
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// Address to listen on instead of 127.0.0.1. Anyone who can reach it can train
    /// networks and write model files as you: use it only on a network you trust.
    #[arg(long, value_name = "ADDRESS")]
    host: Option<IpAddr>,
}

pub fn run(args: LabArgs) -> Result<()> {
    let mut opts = LabOptions {
        port: args.port,
        ..LabOptions::default()
    };
    if let Some(host) = args.host {
        if !host.is_loopback() {
            eprintln!(
                "warning: the lab listens on {host}, not only on this machine: anyone who can \
                 reach it can start training runs and write model files as you"
            );
        }
        opts.host = host;
    }
    serve(&opts, |url| {
        println!("backprop lab: {url}  (Ctrl-C to stop)");
    })
}
