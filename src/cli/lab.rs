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
    ignore_sigpipe();
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

/// Makes a write to a connection the browser has closed an error instead of the end of the
/// process. The command line restores SIGPIPE's default disposition (so that `backprop … |
/// head` ends quietly), under which the first event written to a closed tab's socket
/// (vectored writes, which cannot ask for `MSG_NOSIGNAL`) would kill the server.
fn ignore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: SIG_IGN installs no handler code; changing a disposition is a single system
    // call, safe while other threads run.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}
