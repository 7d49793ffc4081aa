//! The HTTP side: routes, the request guard and the event stream.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::{bench, guard, runs, stepper};
use crate::error::{Error, Result};

/// Where the lab listens.
#[derive(Clone, Debug)]
pub struct LabOptions {
    /// The address to bind (127.0.0.1 unless the user says otherwise).
    pub host: IpAddr,
    /// The port; 0 picks a free one.
    pub port: u16,
}

impl Default for LabOptions {
    fn default() -> Self {
        LabOptions {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 8000,
        }
    }
}

struct Lab {
    port: u16,
    runs: runs::Runs,
}

const INDEX: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// Binds, calls `ready` with the lab's URL, and serves until the process ends.
pub fn serve(opts: &LabOptions, ready: impl FnOnce(&str)) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io("the lab's runtime", e))?;
    rt.block_on(async move {
        let addr = SocketAddr::new(opts.host, opts.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Error::io(format!("{addr}"), e))?;
        let local = listener
            .local_addr()
            .map_err(|e| Error::io(format!("{addr}"), e))?;
        let shown = if local.ip().is_unspecified() || local.ip().is_loopback() {
            format!("http://127.0.0.1:{}/", local.port())
        } else {
            format!("http://{local}/")
        };
        ready(&shown);
        let lab = Arc::new(Lab {
            port: local.port(),
            runs: runs::Runs::default(),
        });
        axum::serve(listener, router(lab))
            .await
            .map_err(|e| Error::io("the lab's server", e))
    })
}

fn router(lab: Arc<Lab>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { page(INDEX, "text/html; charset=utf-8") }),
        )
        .route(
            "/app.js",
            get(|| async { page(APP_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/app.css",
            get(|| async { page(APP_CSS, "text/css; charset=utf-8") }),
        )
        .route("/api/graph", post(graph))
        .route("/api/bench", post(layer_bench))
        .route("/api/options", get(options))
        .route("/api/runs", get(list_runs).post(start_run))
        .route("/api/runs/{id}/events", get(events))
        .route("/api/runs/{id}/stop", post(stop_run))
        .route("/api/runs/{id}/save", post(save_run))
        .route("/api/runs/{id}/report", get(run_report))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&lab),
            check_request,
        ))
        .with_state(lab)
}

fn page(body: &'static str, kind: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            // Nothing but this lab: no other origin's scripts, styles, frames or connections.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// Refuses (403) requests that are not the lab's own ([`guard::check`]), and (415) requests
/// that change something without a JSON body.
async fn check_request(State(lab): State<Arc<Lab>>, req: Request, next: Next) -> Response {
    let h = req.headers();
    let text = |name: header::HeaderName| h.get(name).and_then(|v| v.to_str().ok());
    let verdict = guard::check(
        text(header::HOST),
        text(header::ORIGIN),
        h.get("sec-fetch-site").and_then(|v| v.to_str().ok()),
        lab.port,
    );
    if let Err(guard::Refused(why)) = verdict {
        return (StatusCode::FORBIDDEN, format!("refused: {why}\n")).into_response();
    }
    if req.method() == Method::POST
        && !text(header::CONTENT_TYPE).is_some_and(|t| t.starts_with("application/json"))
    {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "refused: a POST to the lab carries application/json\n",
        )
            .into_response();
    }
    let mut resp = next.run(req).await;
    resp.headers_mut().insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// A JSON error the page shows: 400 for what the user typed, 500 otherwise.
fn failure(e: &Error) -> Response {
    let code = match e {
        Error::Invalid(_) | Error::Shape(_) => StatusCode::BAD_REQUEST,
        Error::Needs { fix, .. } if fix.is_usage() => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (code, axum::Json(json!({"error": e.to_string()}))).into_response()
}

fn reply(r: Result<Value>) -> Response {
    match r {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => failure(&e),
    }
}

/// Reads a JSON body, answering 400 for one that is not JSON.
fn body_json(body: &[u8]) -> Result<Value> {
    serde_json::from_slice(body)
        .map_err(|e| Error::Invalid(format!("the request is not JSON: {e}")))
}

async fn graph(body: axum::body::Bytes) -> Response {
    reply(body_json(&body).and_then(|v| {
        let what = v.get("what").and_then(Value::as_str).unwrap_or("");
        let mut values: Vec<(String, f64)> = Vec::new();
        if let Some(obj) = v.get("values").and_then(Value::as_object) {
            for (name, x) in obj {
                let x = x.as_f64().filter(|x| x.is_finite()).ok_or_else(|| {
                    Error::Invalid(format!("the value of {name} is not a finite number"))
                })?;
                values.push((name.clone(), x));
            }
        }
        let refs: Vec<(&str, f64)> = values.iter().map(|(n, x)| (n.as_str(), *x)).collect();
        stepper::describe(what, &refs)
    }))
}

async fn layer_bench(body: axum::body::Bytes) -> Response {
    reply(body_json(&body).and_then(|v| {
        let layer = v.get("layer").and_then(Value::as_str).unwrap_or("");
        let seed = v.get("seed").and_then(Value::as_u64).unwrap_or(1);
        bench::run(layer, seed)
    }))
}

async fn options() -> Response {
    let datasets: Vec<Value> = runs::datasets()
        .into_iter()
        .map(|(name, installed)| json!({"name": name, "installed": installed}))
        .collect();
    let layers: Vec<&str> = bench::LAYERS.iter().map(|(n, _)| *n).collect();
    let optimizers: Vec<&str> = crate::optim::OptimizerKind::ALL
        .iter()
        .map(|k| k.key())
        .collect();
    axum::Json(json!({
        "datasets": datasets,
        "layers": layers,
        "optimizers": optimizers,
        "book_graphs": ["apple", "apple-orange"],
    }))
    .into_response()
}

async fn list_runs(State(lab): State<Arc<Lab>>) -> Response {
    axum::Json(lab.runs.list()).into_response()
}

async fn start_run(State(lab): State<Arc<Lab>>, body: axum::body::Bytes) -> Response {
    let started = body_json(&body)
        .and_then(|v| runs::Plan::from_json(&v))
        .and_then(|plan| lab.runs.start(plan));
    reply(started.map(|run| json!({"id": run.id, "title": run.title})))
}

fn find(lab: &Lab, id: usize) -> std::result::Result<Arc<runs::Run>, Box<Response>> {
    lab.runs
        .get(id)
        .ok_or_else(|| Box::new((StatusCode::NOT_FOUND, format!("no run {id}\n")).into_response()))
}

/// Stops a run. The (empty) JSON body is read, so that the connection closes cleanly.
async fn stop_run(
    State(lab): State<Arc<Lab>>,
    Path(id): Path<usize>,
    _body: axum::body::Bytes,
) -> Response {
    match find(&lab, id) {
        Ok(run) => {
            run.stop();
            axum::Json(json!({"stopping": id})).into_response()
        }
        Err(r) => *r,
    }
}

async fn save_run(
    State(lab): State<Arc<Lab>>,
    Path(id): Path<usize>,
    body: axum::body::Bytes,
) -> Response {
    let run = match find(&lab, id) {
        Ok(run) => run,
        Err(r) => return *r,
    };
    let saved = body_json(&body).and_then(|v| {
        let path = v
            .get("path")
            .and_then(Value::as_str)
            .filter(|p| !p.trim().is_empty())
            .ok_or_else(|| Error::Invalid("say where to save the model (a file path)".into()))?;
        let path = std::path::PathBuf::from(path);
        // Writing a file is blocking work.
        let written = tokio::task::block_in_place(|| run.save(&path))?;
        Ok(json!({"saved": written.display().to_string()}))
    });
    reply(saved)
}

/// The finished run's HTML report (`train --report`'s), self-contained: its own inline
/// styles and data images, nothing else.
async fn run_report(State(lab): State<Arc<Lab>>, Path(id): Path<usize>) -> Response {
    let run = match find(&lab, id) {
        Ok(run) => run,
        Err(r) => return *r,
    };
    match run.report() {
        Some(html) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; img-src data:; style-src 'unsafe-inline'",
                ),
            ],
            html,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "the run has no report yet\n").into_response(),
    }
}

/// The run's events as server-sent events, from `?from=N` or the `Last-Event-ID` a
/// reconnecting `EventSource` sends, each with its number as its id; the stream ends after
/// the run's last event.
async fn events(
    State(lab): State<Arc<Lab>>,
    Path(id): Path<usize>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let run = match find(&lab, id) {
        Ok(run) => run,
        Err(r) => return *r,
    };
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .map(|n| n + 1);
    let from = q.get("from").and_then(|v| v.parse::<usize>().ok());
    let start = resume.or(from).unwrap_or(0);
    let stream = futures_util::stream::unfold(
        (
            run,
            start,
            Vec::<std::sync::Arc<str>>::new().into_iter(),
            false,
        ),
        |(run, mut next, mut pending, mut ended)| async move {
            loop {
                if let Some(ev) = pending.next() {
                    let item = SseEvent::default().id((next).to_string()).data(ev.as_ref());
                    next += 1;
                    return Some((Ok::<_, Infallible>(item), (run, next, pending, ended)));
                }
                if ended {
                    return None;
                }
                let (evs, done) = run.events_from(next);
                if evs.is_empty() {
                    if done {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                ended = done;
                pending = evs.into_iter();
            }
        },
    );
    let sse = Sse::new(stream).keep_alive(KeepAlive::default());
    let mut resp = sse.into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
