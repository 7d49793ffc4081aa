//! `backprop data fetch`: downloading a known set's four `.gz` files from its mirrors, with
//! retries, each verified (sha256 of the uncompressed content) before it is placed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::datasets::{FileSpec, Known};
use super::store::Staged;
use crate::error::{Error, Result};

/// What a download reports, for a progress display.
#[derive(Clone, Debug)]
pub enum FetchEvent<'a> {
    /// A download starts; `len` is the server's Content-Length, if it sent one.
    Start {
        /// The URL.
        url: &'a str,
        /// Expected bytes.
        len: Option<u64>,
    },
    /// Bytes received so far.
    Progress(u64),
    /// An attempt failed and the next one (another try or mirror) follows.
    Retry {
        /// The URL that failed.
        url: &'a str,
        /// Why.
        error: String,
    },
    /// The file was verified and placed at this path.
    Done(&'a Path),
}

/// How to fetch: mirrors to try in order, and tries per mirror.
#[derive(Clone, Debug)]
pub struct FetchConfig {
    /// Base URLs; `<base><file>.gz` is requested.
    pub mirrors: Vec<String>,
    /// Attempts per mirror before moving on to the next.
    pub tries: usize,
    /// Pause before a retry, doubled each time.
    pub backoff: Duration,
    /// Give up on a connection that stalls for this long.
    pub timeout: Duration,
}

impl FetchConfig {
    /// The published mirrors of `known`, three tries each.
    pub fn for_known(known: Known) -> Self {
        FetchConfig {
            mirrors: known.mirrors().iter().map(|s| s.to_string()).collect(),
            tries: 3,
            backoff: Duration::from_secs(1),
            timeout: Duration::from_secs(60),
        }
    }
}

/// Downloads the four files of `known` into `dest_dir`, skipping files already there and
/// verified. Every file is checked against the published checksum before it is renamed
/// into place; on failure nothing unverified is left in `dest_dir`.
pub fn fetch_into(
    known: Known,
    dest_dir: &Path,
    cfg: &FetchConfig,
    on_event: &mut dyn FnMut(FetchEvent),
) -> Result<PathBuf> {
    std::fs::create_dir_all(dest_dir).map_err(|e| Error::io(dest_dir, e))?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(cfg.timeout))
        .timeout_recv_body(Some(cfg.timeout))
        .build()
        .into();
    for spec in known.files() {
        let present = super::datasets::find_file(dest_dir, spec.name);
        if present.is_some_and(|p| super::datasets::verify_file(&p, &spec).is_ok()) {
            continue;
        }
        fetch_file(&agent, &spec, dest_dir, cfg, on_event)?;
    }
    Ok(dest_dir.to_path_buf())
}

fn fetch_file(
    agent: &ureq::Agent,
    spec: &FileSpec,
    dest_dir: &Path,
    cfg: &FetchConfig,
    on_event: &mut dyn FnMut(FetchEvent),
) -> Result<()> {
    let dest = dest_dir.join(format!("{}.gz", spec.name));
    let mut last = String::from("no mirrors");
    let mut pause = cfg.backoff;
    for base in &cfg.mirrors {
        let url = format!("{}/{}.gz", base.trim_end_matches('/'), spec.name);
        for _ in 0..cfg.tries.max(1) {
            match try_once(agent, &url, spec, &dest, on_event) {
                Ok(()) => {
                    on_event(FetchEvent::Done(&dest));
                    return Ok(());
                }
                Err(e) => {
                    last = format!("{url}: {e}");
                    on_event(FetchEvent::Retry {
                        url: &url,
                        error: e.to_string(),
                    });
                    std::thread::sleep(pause);
                    pause *= 2;
                }
            }
        }
    }
    Err(Error::io(
        &dest,
        std::io::Error::other(format!("download failed on every mirror; last: {last}")),
    ))
}

fn try_once(
    agent: &ureq::Agent,
    url: &str,
    spec: &FileSpec,
    dest: &Path,
    on_event: &mut dyn FnMut(FetchEvent),
) -> Result<()> {
    let net = |e: ureq::Error| Error::Invalid(e.to_string());
    let mut resp = agent.get(url).call().map_err(net)?;
    let len = resp.body().content_length();
    on_event(FetchEvent::Start { url, len });
    // A gzipped file is never much larger than its content; more is a misbehaving server.
    let mut body = resp
        .body_mut()
        .with_config()
        .limit(spec.len + (1 << 20))
        .reader();
    let staged = Staged::write(dest, &mut body as &mut dyn Read, &mut |n| {
        on_event(FetchEvent::Progress(n))
    })
    .map_err(|e| Error::Invalid(format!("download interrupted: {e}")))?;
    staged.commit(spec)?;
    Ok(())
}
