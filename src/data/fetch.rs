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
    /// Give up on a server that does not connect or answer within this time.
    pub timeout: Duration,
    /// Give up on a body that takes longer than this in total.
    pub body_timeout: Duration,
}

impl FetchConfig {
    /// The published mirrors of `known`, three tries each.
    pub fn for_known(known: Known) -> Self {
        FetchConfig {
            mirrors: known.mirrors().iter().map(|s| s.to_string()).collect(),
            tries: 3,
            backoff: Duration::from_secs(1),
            timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(600),
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
    fetch_files(&known.files(), dest_dir, cfg, on_event)
}

/// Downloads `<mirror><name>.gz` for each of `files` into `dest_dir`, as [`fetch_into`] does.
pub fn fetch_files(
    files: &[FileSpec],
    dest_dir: &Path,
    cfg: &FetchConfig,
    on_event: &mut dyn FnMut(FetchEvent),
) -> Result<PathBuf> {
    std::fs::create_dir_all(dest_dir).map_err(|e| Error::io(dest_dir, e))?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(cfg.timeout))
        .timeout_recv_response(Some(cfg.timeout))
        .timeout_recv_body(Some(cfg.body_timeout))
        .build()
        .into();
    for spec in files {
        let present = super::datasets::find_file(dest_dir, spec.name);
        if present.is_some_and(|p| super::datasets::verify_file(&p, spec).is_ok()) {
            continue;
        }
        fetch_file(&agent, spec, dest_dir, cfg, on_event)?;
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

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::data::datasets::sha256_hex;

    /// A local HTTP server for the test: `/good/F` serves `gz`, `/short/F` a truncated copy
    /// with a matching Content-Length, `/cut/F` announces the full length then hangs up,
    /// `/corrupt/F` a copy with one byte flipped, `/flaky/F` cuts the first request and
    /// serves the second; anything else is 404. Returns the base URL.
    fn serve(gz: Vec<u8>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let flaky = Arc::new(AtomicUsize::new(0));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    continue;
                }
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
                let full = gz.len();
                let (status, body, announced): (&str, Vec<u8>, usize) =
                    match path.split('/').nth(1).unwrap_or("") {
                        "good" => ("200 OK", gz.clone(), full),
                        "short" => ("200 OK", gz[..full / 2].to_vec(), full / 2),
                        "cut" => ("200 OK", gz[..full / 2].to_vec(), full),
                        "corrupt" => {
                            let mut b = gz.clone();
                            b[full / 2] ^= 0x40;
                            ("200 OK", b, full)
                        }
                        "flaky" if flaky.fetch_add(1, Ordering::SeqCst) == 0 => {
                            ("200 OK", gz[..full / 3].to_vec(), full)
                        }
                        "flaky" => ("200 OK", gz.clone(), full),
                        _ => ("404 Not Found", b"no".to_vec(), 2),
                    };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: {announced}\r\nConnection: close\r\n\r\n"
                );
                let _ = stream.write_all(&body);
            }
        });
        format!("http://{addr}")
    }

    fn fixture() -> (FileSpec, Vec<u8>) {
        let content: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&content).unwrap();
        let spec = FileSpec {
            name: "t10k-labels-idx1-ubyte",
            len: content.len() as u64,
            sha256: sha256_hex(&[&content]).leak(),
        };
        (spec, e.finish().unwrap())
    }

    fn cfg(base: &str, kinds: &[&str], tries: usize) -> FetchConfig {
        FetchConfig {
            mirrors: kinds.iter().map(|k| format!("{base}/{k}/")).collect(),
            tries,
            backoff: Duration::from_millis(1),
            timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
        }
    }

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("backprop-fetch-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn bad_mirrors_are_skipped_and_only_the_verified_file_is_placed() {
        let (spec, gz) = fixture();
        let base = serve(gz.clone());
        let dir = scratch("skip");
        let mut retries = Vec::new();
        let c = cfg(&base, &["missing", "corrupt", "short", "cut", "good"], 1);
        fetch_files(&[spec], &dir, &c, &mut |e| {
            if let FetchEvent::Retry { url, .. } = e {
                retries.push(url.to_string())
            }
        })
        .unwrap();
        assert_eq!(retries.len(), 4, "{retries:?}");
        assert_eq!(entries(&dir), ["t10k-labels-idx1-ubyte.gz"]);
        assert_eq!(
            std::fs::read(dir.join("t10k-labels-idx1-ubyte.gz")).unwrap(),
            gz
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_download_leaves_nothing_behind_and_says_why() {
        let (spec, gz) = fixture();
        let base = serve(gz);
        let dir = scratch("fail");
        let c = cfg(&base, &["corrupt", "short"], 2);
        let e = fetch_files(&[spec], &dir, &c, &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(e.contains("every mirror") && e.contains("/short/"), "{e}");
        assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_interrupted_download_is_retried() {
        let (spec, gz) = fixture();
        let base = serve(gz);
        let dir = scratch("retry");
        let mut events = 0;
        fetch_files(&[spec], &dir, &cfg(&base, &["flaky"], 2), &mut |e| {
            events += matches!(e, FetchEvent::Retry { .. }) as usize
        })
        .unwrap();
        assert_eq!(events, 1);
        assert_eq!(entries(&dir), ["t10k-labels-idx1-ubyte.gz"]);
        // a second fetch finds the verified file and downloads nothing
        let c = cfg(&base, &["missing"], 1);
        fetch_files(&[spec], &dir, &c, &mut |_| panic!("no download expected")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
