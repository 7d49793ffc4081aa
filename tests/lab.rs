//! `backprop lab`: the server started as a user starts it, on a free port.
//!
//! - Requests another page or a rebound DNS name would send (a foreign `Origin`, a foreign
//!   `Host`) are refused with 403 and change nothing; so is a POST that is not JSON.
//! - A run lives on the server: a client that reads part of its event stream and hangs up
//!   does not stop it, and a run that fails leaves the server answering.
//! - A learner's session in headless Chromium (`tests/lab_browser.py`, Selenium with
//!   Debian's `chromium-driver`): the graph stepper's gradients for `x*y + exp(z)` and the
//!   book's apple-orange numbers read from the page, the layer bench, and a short training
//!   run on the embedded digits whose charts and histograms update. Skipped with a note when
//!   chromedriver or Selenium is missing, unless `BACKPROP_REQUIRE_CHROMIUM=1` (CI).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::backprop_command;

/// A running `backprop lab --port 0`, killed when dropped.
struct Lab {
    child: Child,
    port: u16,
    url: String,
}

impl Lab {
    fn start() -> Lab {
        let mut child = backprop_command()
            .args(["lab", "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the binary runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // "backprop lab: http://127.0.0.1:PORT/  (Ctrl-C to stop)"
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://127.0.0.1:"))
            .unwrap_or_else(|| panic!("no URL in {line:?}"))
            .to_string();
        let port = url
            .trim_start_matches("http://127.0.0.1:")
            .trim_end_matches('/')
            .parse()
            .unwrap();
        Lab { child, port, url }
    }

    /// Sends a raw HTTP/1.1 request with exactly these headers and returns (status, body).
    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        s.write_all(req.as_bytes()).unwrap();
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).unwrap_or_else(|e| {
            panic!(
                "{method} {path}: {e}; got {:?}",
                String::from_utf8_lossy(&resp)
            )
        });
        let resp = String::from_utf8_lossy(&resp).into_owned();
        let status = resp[9..12].parse().unwrap();
        let body = resp
            .split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_string();
        (status, body)
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn post_json(&self, path: &str, body: &str) -> (u16, String) {
        let host = self.host();
        let origin = format!("http://{host}");
        self.request(
            "POST",
            path,
            &[
                ("Host", &host),
                ("Origin", &origin),
                ("Content-Type", "application/json"),
            ],
            body,
        )
    }

    fn get(&self, path: &str) -> (u16, String) {
        let host = self.host();
        self.request("GET", path, &[("Host", &host)], "")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `RunSpec` in its JSON form, as the page sends it.
const RUN: &str = r#"{"data": {"dataset": "digits", "dir": null, "seed": 42},
    "arch": {"name": "two-layer", "hidden": 30, "weight_init_std": 0.01},
    "optimizer": {"name": "sgd", "lr": 0.5},
    "schedule": {"epochs": 40, "batch_size": 50, "sampling": "shuffle"},
    "precision": "F32"}"#;

#[test]
fn foreign_origin_and_host_are_refused() {
    let lab = Lab::start();
    let host = lab.host();
    let own = format!("http://{host}");
    let (status, page) = lab.request("GET", "/", &[("Host", &host)], "");
    assert_eq!(status, 200);
    assert!(page.contains("<title>backprop lab</title>"), "{page}");
    assert_eq!(
        lab.request("GET", "/", &[("Host", &host), ("Origin", &own)], "")
            .0,
        200
    );

    // Another web page starting a run, a rebound DNS name, a cross-site fetch.
    let json = ("Content-Type", "application/json");
    for headers in [
        vec![
            ("Host", host.as_str()),
            ("Origin", "http://evil.example"),
            json,
        ],
        vec![("Host", host.as_str()), ("Origin", "null"), json],
        vec![("Host", "evil.example"), json],
        vec![
            ("Host", "rebind.evil.example:8000"),
            ("Origin", "http://rebind.evil.example:8000"),
            json,
        ],
        vec![
            ("Host", host.as_str()),
            ("Sec-Fetch-Site", "cross-site"),
            json,
        ],
    ] {
        let (status, body) = lab.request("POST", "/api/runs", &headers, RUN);
        assert_eq!(status, 403, "{headers:?}: {body}");
        assert!(body.starts_with("refused: "), "{body}");
    }
    // Reading is refused too, and a form-like POST (not JSON) from the lab's own origin.
    let (status, _) = lab.request("GET", "/api/runs", &[("Host", "evil.example:80")], "");
    assert_eq!(status, 403);
    let (status, _) = lab.request(
        "POST",
        "/api/runs",
        &[
            ("Host", &host),
            ("Origin", &own),
            ("Content-Type", "text/plain"),
        ],
        RUN,
    );
    assert_eq!(status, 415);
    // None of them started anything.
    assert_eq!(lab.get("/api/runs"), (200, "[]".to_string()));
    // The same request from the lab's own page is accepted.
    let (status, body) = lab.post_json("/api/runs", RUN);
    assert_eq!(status, 200, "{body}");
}

/// Reads server-sent events from `path` until `stop` says so or the stream ends; returns
/// the `data:` payloads. Fails with what it got if the answer is not an event stream.
fn read_events(lab: &Lab, path: &str, mut stop: impl FnMut(&[String]) -> bool) -> Vec<String> {
    let mut s = TcpStream::connect(("127.0.0.1", lab.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n",
        lab.host()
    )
    .unwrap();
    let mut events = Vec::new();
    let mut head = String::new();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        let n = match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => panic!("{path}: {e} after {} events; head {head:?}", events.len()),
        };
        buf.extend_from_slice(&chunk[..n]);
        while let Some(i) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=i).collect();
            let line = String::from_utf8_lossy(&line).trim_end().to_string();
            if head.is_empty() {
                head = line.clone();
                assert!(head.starts_with("HTTP/1.1 200"), "{path}: {head}");
            }
            if let Some(data) = line.strip_prefix("data: ") {
                events.push(data.to_string());
                if stop(&events) {
                    return events;
                }
            }
        }
    }
    assert!(!head.is_empty(), "{path}: the lab sent nothing");
    events
}

#[test]
fn a_run_outlives_its_page_and_a_failed_run_leaves_the_server_up() {
    let lab = Lab::start();
    let (status, body) = lab.post_json("/api/runs", RUN);
    assert_eq!(status, 200, "{body}");
    // A page that reads two events and closes (the tab is closed).
    let first = read_events(&lab, "/api/runs/1/events", |e| e.len() >= 2);
    assert_eq!(first.len(), 2);
    assert!(first[0].contains(r#""type":"start""#), "{}", first[0]);
    // Pages closed in the middle of a stream, many times over: the server writes to the
    // closed connections and carries on (SIGPIPE must not end it).
    for _ in 0..20 {
        read_events(&lab, "/api/runs/1/events", |e| e.len() >= 3);
    }
    // A new page gets the whole run, to its end: it was not stopped.
    let all = read_events(&lab, "/api/runs/1/events", |_| false);
    assert!(
        all.last().unwrap().contains(r#""type":"done""#),
        "{:?}",
        all.last()
    );
    // 1437 training digits in batches of 50: 29 steps per epoch, 40 epochs.
    let steps = all
        .iter()
        .filter(|e| e.contains(r#""type":"step""#))
        .count();
    assert_eq!(steps, 29 * 40);
    let summary = all
        .iter()
        .find(|e| e.contains(r#""type":"summary""#))
        .unwrap();
    assert!(summary.contains(r#""interrupted":false"#), "{summary}");
    // Resuming after event 9 (what EventSource sends as Last-Event-ID) replays from 10.
    let resumed = read_events(&lab, "/api/runs/1/events?from=10", |_| false);
    assert_eq!(resumed, all[10..]);

    // Saving writes exactly where asked, and never over an existing file.
    let dir = common::scratch("save");
    let path = dir.join("digits.safetensors");
    let body = format!(r#"{{"path": {:?}}}"#, path.to_str().unwrap());
    let (status, reply) = lab.post_json("/api/runs/1/save", &body);
    assert_eq!(status, 200, "{reply}");
    assert!(path.is_file());
    let (status, reply) = lab.post_json("/api/runs/1/save", &body);
    assert_eq!(status, 400, "{reply}");
    assert!(reply.contains("exists already"), "{reply}");
    let eval = backprop_command()
        .args(["eval", "--model"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        eval.status.success(),
        "{}",
        String::from_utf8_lossy(&eval.stderr)
    );

    // A run that fails (a network too large to fit in memory) ends with an error event; the
    // server carries on.
    let huge = RUN.replace(r#""hidden": 30"#, r#""hidden": 4000000000000"#);
    let (status, body) = lab.post_json("/api/runs", &huge);
    assert_eq!(status, 200, "{body}");
    let events = read_events(&lab, "/api/runs/2/events", |_| false);
    assert!(
        events.iter().any(|e| e.contains(r#""type":"error""#)),
        "{events:?}"
    );
    let (status, body) = lab.post_json("/api/graph", r#"{"what": "apple"}"#);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""value_text":"220""#), "{body}");

    // Stop: a long run stops early when asked.
    let long = RUN.replace(r#""epochs": 40"#, r#""epochs": 1000"#);
    assert_eq!(lab.post_json("/api/runs", &long).0, 200);
    let _ = read_events(&lab, "/api/runs/3/events", |e| e.len() >= 30);
    assert_eq!(lab.post_json("/api/runs/3/stop", "{}").0, 200);
    let started = Instant::now();
    let events = read_events(&lab, "/api/runs/3/events", |_| false);
    assert!(started.elapsed() < Duration::from_secs(30));
    let summary = events
        .iter()
        .find(|e| e.contains(r#""type":"summary""#))
        .unwrap();
    assert!(summary.contains(r#""interrupted":true"#), "{summary}");
}

fn have_python_selenium() -> bool {
    Command::new("python3")
        .args(["-c", "import selenium"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn a_learner_drives_every_view_in_headless_chromium() {
    let driver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    let ready = Path::new(&driver).is_file() && have_python_selenium();
    if !ready {
        assert!(
            std::env::var("BACKPROP_REQUIRE_CHROMIUM").as_deref() != Ok("1"),
            "BACKPROP_REQUIRE_CHROMIUM=1 but chromedriver ({driver}) or Python's selenium is missing"
        );
        eprintln!(
            "note: the lab browser test skipped: needs chromedriver (apt-get install \
             chromium-driver) and Python's selenium (pip install selenium)"
        );
        return;
    }
    let lab = Lab::start();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lab_browser.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script).arg(&lab.url);
    if let Some(dir) = std::env::var_os("BACKPROP_LAB_SCREENSHOTS") {
        cmd.arg(dir);
    }
    let out = cmd.output().expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("all checks passed"), "{stdout}");
}
