//! Every command driven with bad arguments and bad files, as a user would: the exit code is the
//! documented one (1 bad file, 2 bad flag), stderr says `error: …` naming the file, nothing
//! panics, and no run takes much memory or time.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{BIN, backprop_command, fixture, idx, scratch};

/// Address-space limit for each child, in KiB (`ulimit -v`): far below what trusting an absurd
/// declared size would need.
const MEMORY_KIB: u64 = 1_000_000;
/// A bad input must be refused well within this.
const QUICK: Duration = Duration::from_secs(60);

/// Runs the binary under `ulimit -v`, checking the time it took.
fn backprop(args: &[&str]) -> Output {
    run_limited(&[], args)
}

/// Runs `wrapper… backprop args…` under `ulimit -v` (the wrapper, if any, being a command that
/// runs the rest, e.g. [`AS_NOBODY`]), checking the time it took.
fn run_limited(wrapper: &[&str], args: &[&str]) -> Output {
    let start = Instant::now();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {MEMORY_KIB}; exec \"$@\""))
        .arg("sh")
        .args(wrapper)
        .arg(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        start.elapsed() < QUICK,
        "{wrapper:?} {args:?} took {:?}",
        start.elapsed()
    );
    out
}

fn dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = scratch("files");
        make_files(&d);
        d
    })
}

fn p(name: &str) -> String {
    dir().join(name).to_str().unwrap().to_string()
}

/// Deterministic junk (an LCG), so a failure can be reproduced.
fn junk(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (x >> 56) as u8
        })
        .collect()
}

fn idx_images(n: u32, rows: u32, cols: u32, body: &[u8]) -> Vec<u8> {
    idx(&[n, rows, cols], body)
}

/// `n` labels, all 3.
fn idx_labels(n: u32) -> Vec<u8> {
    idx(&[n], &vec![3u8; n as usize])
}

/// A valid 8×1 grey PNG.
fn png() -> Vec<u8> {
    let grey = [0, 32, 64, 96, 128, 160, 192, 255];
    backprop::io::image::encode_png(&grey, 8, 1, png::ColorType::Grayscale).unwrap()
}

fn make_files(d: &Path) {
    let w = |name: &str, bytes: &[u8]| std::fs::write(d.join(name), bytes).unwrap();
    w("empty", b"");
    w("random", &junk(4096));
    std::fs::create_dir_all(d.join("a-directory")).unwrap();
    w("image.png", &png());
    // 2³¹ images of 28×28 declared, 100 bytes present.
    w("huge-idx", &idx_images(1 << 31, 28, 28, &[0; 100]));
    w("truncated-idx", &idx_images(3, 8, 8, &[7; 100]));
    w("images-8x8", &idx_images(2, 8, 8, &[9; 128]));
    w("labels", &idx_labels(2));
    // A safetensors header declaring a 2³⁰×2³⁰ tensor over 16 bytes of data.
    let h = br#"{"W1":{"dtype":"F32","shape":[1073741824,1073741824],"data_offsets":[0,16]}}"#;
    let mut st = (h.len() as u64).to_le_bytes().to_vec();
    st.extend(h);
    st.extend([0; 16]);
    w("huge-tensor.safetensors", &st);
    // A header length of 2⁶⁰ bytes.
    let mut st = (1u64 << 60).to_le_bytes().to_vec();
    st.extend(b"{}");
    w("huge-header.safetensors", &st);
    // Protocol-4 pickle: BINBYTES8 declaring 2⁶² bytes.
    let mut pk = vec![0x80, 4, 0x8e];
    pk.extend((1u64 << 62).to_le_bytes());
    pk.extend(b"abc");
    w("huge-bytes.pkl", &pk);
    std::fs::copy(fixture("evil_p4.pkl"), d.join("evil.pkl")).unwrap();
    // pickle.dumps({'W1': 1.0}, 1): protocol 1, which has no PROTO opcode.
    w(
        "protocol-1.pkl",
        b"}q\x00X\x02\x00\x00\x00W1q\x01G?\xf0\x00\x00\x00\x00\x00\x00s.",
    );
    // A safetensors header of 0x380 bytes (the file starts `80 03`, like a protocol-3
    // pickle) over a file cut short: neither kind.
    let mut st = 0x380u64.to_le_bytes().to_vec();
    st.extend(b"{\"W1\":");
    w("pickle-like.safetensors", &st);
    // A pickle under a model's name.
    std::fs::copy(fixture("two_layer.pkl"), d.join("pickle.safetensors")).unwrap();
    // A trained model, and its first 200 bytes.
    let good = d.join("good.safetensors");
    let o = backprop_command()
        .args(["train", "--epochs", "1", "--save", good.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let model = std::fs::read(&good).unwrap();
    w("truncated.safetensors", &model[..200]);
    // Data directories with one bad training-images file each; the others are fine.
    for (sub, images) in [
        ("data-huge", idx_images(1 << 31, 28, 28, &[0; 10])),
        ("data-labels-as-images", idx_labels(2)),
        ("data-empty-file", Vec::new()),
        ("data-random", junk(3000)),
        ("data-model-as-images", model.clone()),
        ("data-truncated", idx_images(2, 28, 28, &[1; 700])),
    ] {
        let s = d.join(sub);
        std::fs::create_dir_all(&s).unwrap();
        std::fs::write(s.join("train-images-idx3-ubyte"), images).unwrap();
        std::fs::write(s.join("train-labels-idx1-ubyte"), idx_labels(2)).unwrap();
        std::fs::write(
            s.join("t10k-images-idx3-ubyte"),
            idx_images(2, 28, 28, &[0; 2 * 784]),
        )
        .unwrap();
        std::fs::write(s.join("t10k-labels-idx1-ubyte"), idx_labels(2)).unwrap();
    }
    std::fs::create_dir_all(d.join("data-none")).unwrap();
}

/// The run failed with `code`, said `error: …` on its first stderr line naming `file`, and did
/// not panic.
#[track_caller]
fn refused(args: &[&str], code: i32, file: Option<&str>) {
    check_refused(&backprop(args), args, code, file);
}

/// What [`refused`] checks, of a run `o` of `args`.
#[track_caller]
fn check_refused(o: &Output, args: &[&str], code: i32, file: Option<&str>) {
    let err = String::from_utf8_lossy(&o.stderr);
    let all = format!("{}{err}", String::from_utf8_lossy(&o.stdout));
    assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
    assert!(err.starts_with("error: "), "{args:?}: {err}");
    assert!(
        !all.contains("panicked") && !all.contains("RUST_BACKTRACE"),
        "{args:?}: {all}"
    );
    if let Some(f) = file {
        let first = err.lines().next().unwrap_or("");
        assert!(
            first.contains(f),
            "{args:?}: first line {first:?} should name {f}"
        );
    }
}

fn bad_file(args: &[&str], file: &str) {
    refused(args, 1, Some(file));
}

#[test]
fn bad_model_files_are_refused_naming_the_file() {
    for name in [
        "empty",
        "random",
        "a-directory",
        "truncated.safetensors",
        "image.png",
        "labels",
        "huge-tensor.safetensors",
        "huge-header.safetensors",
        "missing.safetensors",
        "protocol-1.pkl",
        "pickle-like.safetensors",
    ] {
        let f = p(name);
        bad_file(&["eval", "--model", &f], name);
        bad_file(&["predict", "--model", &f, &p("image.png")], name);
    }
    // The wrong kind of file is named as what it seems to be.
    for (name, kind) in [("image.png", "PNG"), ("labels", "IDX")] {
        let o = backprop(&["eval", "--model", &p(name)]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(kind), "{name}: {err}");
    }
    let huge = p("huge-bytes.pkl");
    for arch in ["two-layer", "simple-conv"] {
        bad_file(
            &["eval", "--model", &huge, "--arch", arch],
            "huge-bytes.pkl",
        );
    }
    // A pickle named like a model: it needs --arch, a usage error.
    refused(
        &["eval", "--model", &p("pickle.safetensors")],
        2,
        Some("pickle.safetensors"),
    );
}

#[test]
fn bad_pickles_are_refused_by_import() {
    let out = p("imported.safetensors");
    for name in [
        "empty",
        "random",
        "a-directory",
        "image.png",
        "huge-bytes.pkl",
        "evil.pkl",
        "truncated.safetensors",
        "missing.pkl",
        "protocol-1.pkl",
        "pickle-like.safetensors",
    ] {
        bad_file(
            &["import", &p(name), "--arch", "two-layer", "--out", &out],
            name,
        );
    }
    assert!(!Path::new(&out).exists());
}

#[test]
fn bad_images_and_idx_files_are_refused_by_predict() {
    let good = p("good.safetensors");
    for name in ["empty", "random", "a-directory", "labels", "missing.png"] {
        bad_file(&["predict", "--model", &good, &p(name)], name);
    }
    for name in [
        "empty",
        "random",
        "a-directory",
        "huge-idx",
        "truncated-idx",
        "labels",
        "good.safetensors",
        "image.png",
    ] {
        bad_file(
            &[
                "predict",
                "--model",
                &good,
                "--idx",
                &p(name),
                "--index",
                "0",
            ],
            name,
        );
    }
    // An images file given as the labels, and an index past the end.
    let images = p("images-8x8");
    bad_file(
        &[
            "predict", "--model", &good, "--idx", &images, "--labels", &images, "--index", "0",
        ],
        "images-8x8",
    );
    bad_file(
        &[
            "predict", "--model", &good, "--idx", &images, "--index", "2",
        ],
        "images-8x8",
    );
}

#[test]
fn bad_data_directories_are_refused_by_every_command_that_reads_data() {
    for sub in [
        "data-huge",
        "data-labels-as-images",
        "data-empty-file",
        "data-random",
        "data-model-as-images",
        "data-truncated",
        "data-none",
    ] {
        let d = p(sub);
        let name = format!("{sub}/train-images-idx3-ubyte");
        bad_file(&["train", "--data", &d, "--epochs", "1"], &name);
        bad_file(&["gradcheck", "--data", &d], &name);
        bad_file(&["experiment", "init", "--data", &d, "--iters", "1"], &name);
        bad_file(
            &["eval", "--model", &p("good.safetensors"), "--data", &d],
            &name,
        );
        bad_file(&["data", "import", "mnist", &d], &name);
    }
    // A file where a directory is expected.
    bad_file(
        &["train", "--data", &p("random"), "--epochs", "1"],
        "random",
    );
    bad_file(&["train", "--resume", &p("random")], "random");
    bad_file(&["train", "--resume", &p("a-directory")], "a-directory");
}

/// Runs the command that follows as user and group 65534 (nobody) with no supplementary groups
/// (`setpriv` from util-linux).
const AS_NOBODY: &[&str] = &[
    "setpriv",
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
];

#[test]
fn an_unreadable_file_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    };
    // A directory anybody may enter, holding two copies of a good model: one readable by all,
    // one by nobody.
    let d = scratch("unreadable");
    mode(&d, 0o755);
    let readable = d.join("readable.safetensors");
    let unreadable = d.join("unreadable.safetensors");
    for f in [&readable, &unreadable] {
        std::fs::copy(dir().join("good.safetensors"), f).unwrap();
    }
    mode(&readable, 0o644);
    mode(&unreadable, 0o000);
    // Root (as on CI) reads through mode 000, so then the child runs as nobody.
    let wrapper: &[&str] = if std::fs::read(&unreadable).is_ok() {
        AS_NOBODY
    } else {
        &[]
    };
    // The same child reads the readable copy: the mode is the only difference between the two
    // runs (this also fails if setpriv is missing or nobody cannot reach the binary).
    let o = run_limited(wrapper, &["eval", "--model", readable.to_str().unwrap()]);
    assert!(
        o.status.success(),
        "{wrapper:?} eval of a readable model: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let args = ["eval", "--model", unreadable.to_str().unwrap()];
    let o = run_limited(wrapper, &args);
    check_refused(&o, &args, 1, Some("unreadable.safetensors"));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Permission denied"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn bad_flags_are_usage_errors() {
    let good = p("good.safetensors");
    let cases: &[&[&str]] = &[
        &["no-such-command"],
        &["train", "--no-such-flag"],
        &["train", "--epochs", "0"],
        &["train", "--lr", "nan"],
        &["train", "--lr", "-1"],
        &["train", "--dropout", "1.5"],
        &["train", "--model", "no-such-net"],
        &["train", "--optimizer", "sgdd"],
        &["train", "--plot", "curves.txt"],
        &["train", "--threads", "0"],
        &["train", "--epochs", "1", "--iters", "5"],
        &["train", "--dataset", "digits", "--data", "/tmp"],
        &["gradcheck", "--samples", "0"],
        &["gradcheck", "--hidden", "a,b"],
        &["bench", "no-such-workload"],
        &["bench", "gemm", "--seconds", "abc"],
        &["data", "fetch", "no-such-set"],
        &["data", "import"],
        &["data", "no-such-subcommand"],
        &["experiment", "no-such-experiment"],
        &["graph", "x*"],
        &["graph", "x+y", "--set", "z=1"],
        &["graph", "x", "--set", "x=abc"],
        &["eval"],
        &["eval", "--model", &good, "--batch-size", "0"],
        &["import", "x.pkl"],
        &["import", "x.pkl", "--arch", "no-such-arch", "--out", "y"],
        &["predict", "--model", &good],
        &["predict", "--model", &good, "--top", "0"],
    ];
    for args in cases {
        refused(args, 2, None);
    }
}

#[test]
fn writing_into_a_missing_directory_fails_at_once_and_leaves_nothing() {
    let missing = "/nonexistent-backprop-dir";
    for (flag, file) in [
        ("--save", "x.safetensors"),
        ("--plot", "x.png"),
        ("--plot", "x.svg"),
        ("--report", "x.html"),
    ] {
        let path = format!("{missing}/{file}");
        let o = backprop(&["train", "--epochs", "1", flag, &path]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{flag}: {err}");
        assert!(err.starts_with("error: ") && err.contains(&path), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        // Checked before training: no epoch line was printed.
        assert!(
            o.stdout.is_empty(),
            "{}",
            String::from_utf8_lossy(&o.stdout)
        );
    }
    for flag in ["--svg", "--dot"] {
        let path = format!("{missing}/graph");
        let o = backprop(&["graph", "apple", flag, &path]);
        assert_eq!(o.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&o.stderr).contains(&path));
    }
    let o = backprop(&[
        "import",
        fixture("two_layer.pkl").to_str().unwrap(),
        "--arch",
        "two-layer",
        "--out",
        &format!("{missing}/m.safetensors"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!Path::new(missing).exists());
}

fn listing(d: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_failed_write_keeps_the_old_file_and_leaves_no_temporary() {
    let d = dir().join("outputs");
    std::fs::create_dir_all(&d).unwrap();
    let old = d.join("model.safetensors");
    std::fs::write(&old, b"the old model").unwrap();
    let old_s = old.to_str().unwrap();
    // Runs that fail before writing leave the old file as it was.
    let o = backprop(&[
        "train",
        "--data",
        &p("data-huge"),
        "--epochs",
        "1",
        "--save",
        old_s,
    ]);
    assert_eq!(o.status.code(), Some(1));
    let o = backprop(&[
        "import",
        &p("random"),
        "--arch",
        "two-layer",
        "--out",
        old_s,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(std::fs::read(&old).unwrap(), b"the old model");

    // The target is a non-empty directory (which would make the final rename fail): an error
    // naming it, the directory untouched, and no temporary file beside it.
    let blocker = d.join("blocked");
    std::fs::create_dir_all(&blocker).unwrap();
    std::fs::write(blocker.join("inside"), b"keep").unwrap();
    std::fs::create_dir_all(d.join("blocked.png").join("sub")).unwrap();
    let before = listing(&d);
    for args in [
        vec!["train", "--epochs", "1", "--save"],
        vec!["train", "--epochs", "1", "--report"],
        vec!["train", "--epochs", "1", "--plot"],
        vec!["graph", "apple", "--svg"],
    ] {
        let target = if args.contains(&"--plot") {
            d.join("blocked.png")
        } else {
            blocker.clone()
        };
        let t = target.to_str().unwrap();
        let o = backprop(&[&args[..], &[t]].concat());
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(t),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(listing(&d), before, "{args:?} left a file behind");
    }
    assert_eq!(std::fs::read(blocker.join("inside")).unwrap(), b"keep");
}

/// Spawns `args` with stdout a pipe that is closed at once: the process must end quietly (by
/// SIGPIPE, like other Unix tools), never panic. A short output may be written before the
/// pipe is closed, so success counts too unless `must_hit` says the output is too large for
/// that.
fn closed_pipe(args: &[&str], must_hit: bool) {
    use std::io::Read;
    let mut child = backprop_command()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    use std::os::unix::process::ExitStatusExt;
    if must_hit {
        assert_eq!(status.signal(), Some(13), "{args:?}: {status:?} {err}");
    } else {
        assert!(
            status.signal() == Some(13) || status.success(),
            "{args:?}: {status:?} {err}"
        );
    }
}

#[test]
fn a_closed_stdout_ends_every_command_quietly() {
    let good = p("good.safetensors");
    // Far more than a pipe's 64 KiB buffer: the writer must meet the closed pipe.
    let image = p("image.png");
    let mut many = vec!["predict", "--model", good.as_str()];
    many.extend(std::iter::repeat_n(image.as_str(), 3000));
    closed_pipe(&many, true);
    closed_pipe(&["eval", "--model", &good, "--misclassified", "20"], false);
    closed_pipe(&["graph", "apple"], false);
    closed_pipe(&["data", "list"], false);
    closed_pipe(&["train", "--epochs", "1"], false);
    closed_pipe(&["gradcheck"], false);
    closed_pipe(&["--help"], false);
}

/// Pickle opcodes for the crafted pickles below (Python's `pickletools` names).
mod op {
    pub const PROTO: u8 = 0x80;
    pub const GLOBAL: u8 = b'c';
    pub const BINBYTES: u8 = b'B';
    pub const SHORT_BINUNICODE: u8 = 0x8c;
    pub const BININT: u8 = b'J';
    pub const BININT1: u8 = b'K';
    pub const TUPLE1: u8 = 0x85;
    pub const TUPLE3: u8 = 0x87;
    pub const EMPTY_DICT: u8 = b'}';
    pub const EMPTY_TUPLE: u8 = b')';
    pub const NEWFALSE: u8 = 0x89;
    pub const MARK: u8 = b'(';
    pub const TUPLE: u8 = b't';
    pub const REDUCE: u8 = b'R';
    pub const BUILD: u8 = b'b';
    pub const SETITEM: u8 = b's';
    pub const BINPUT: u8 = b'q';
    pub const BINGET: u8 = b'h';
    pub const DUP: u8 = b'2';
    pub const POP: u8 = b'0';
    pub const STOP: u8 = b'.';
}

/// A small pickle builder: just enough to write the crafted files of the memory tests.
#[derive(Default)]
struct Pickle(Vec<u8>);

impl Pickle {
    fn new() -> Pickle {
        Pickle(vec![op::PROTO, 4])
    }
    fn op(&mut self, o: u8) -> &mut Self {
        self.0.push(o);
        self
    }
    fn global(&mut self, module: &str, name: &str) -> &mut Self {
        self.0.push(op::GLOBAL);
        self.0.extend(format!("{module}\n{name}\n").bytes());
        self
    }
    fn str(&mut self, s: &str) -> &mut Self {
        self.0.extend([op::SHORT_BINUNICODE, s.len() as u8]);
        self.0.extend(s.bytes());
        self
    }
    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.push(op::BINBYTES);
        self.0.extend((b.len() as u32).to_le_bytes());
        self.0.extend(b);
        self
    }
    fn int(&mut self, i: i32) -> &mut Self {
        self.0.push(op::BININT);
        self.0.extend(i.to_le_bytes());
        self
    }
    fn put(&mut self, i: u8) -> &mut Self {
        self.0.extend([op::BINPUT, i]);
        self
    }
    fn get(&mut self, i: u8) -> &mut Self {
        self.0.extend([op::BINGET, i]);
        self
    }
    /// `numpy.dtype('f8')` in memo slot `slot`.
    fn dtype_f8(&mut self, slot: u8) -> &mut Self {
        self.global("numpy", "dtype")
            .str("f8")
            .op(op::TUPLE1)
            .op(op::REDUCE)
            .put(slot)
    }
}

/// 4 MiB of float64 data: one buffer that many arrays of the pickles below are built from.
const SHARED_BUFFER: usize = 4 << 20;

/// Protocol 5's way (`_frombuffer(buf, dtype, shape, 'C')`): one buffer, memoised, then each
/// array built from MEMO GETs of it (13 bytes each), stored under its own name. Believed, it
/// needs 4 MiB per 13 bytes of file.
fn frombuffer_bomb(arrays: usize) -> Vec<u8> {
    let mut p = Pickle::new();
    p.op(op::EMPTY_DICT)
        .global("numpy.core.numeric", "_frombuffer")
        .put(0)
        .bytes(&vec![0; SHARED_BUFFER])
        .put(1)
        .dtype_f8(2)
        .int((SHARED_BUFFER / 8) as i32)
        .op(op::TUPLE1)
        .put(3)
        .str("C")
        .put(4);
    // The stack: the dict, then the five objects just memoised; drop down to the dict.
    for _ in 0..5 {
        p.op(op::POP);
    }
    for k in 0..arrays {
        p.str(&format!("W{k}"));
        p.get(0).op(op::MARK).get(1).get(2).get(3).get(4);
        p.op(op::TUPLE).op(op::REDUCE).op(op::SETITEM);
    }
    p.op(op::STOP);
    p.0
}

/// Protocols 2–4's way (`_reconstruct` then `BUILD` with the state `(1, shape, dtype, False,
/// raw)`): one state tuple holding the buffer, memoised, then BUILD with it on many arrays.
fn reconstruct_bomb(arrays: usize) -> Vec<u8> {
    let mut p = Pickle::new();
    p.op(op::EMPTY_DICT)
        .global("numpy.core.multiarray", "_reconstruct")
        .put(0)
        .global("numpy", "ndarray")
        .op(op::BININT1)
        .op(0)
        .op(op::TUPLE1)
        .bytes(b"b")
        .op(op::TUPLE3)
        .put(1);
    p.op(op::MARK)
        .op(op::BININT1)
        .op(1)
        .int((SHARED_BUFFER / 8) as i32)
        .op(op::TUPLE1)
        .dtype_f8(2)
        .op(op::NEWFALSE)
        .bytes(&vec![0; SHARED_BUFFER])
        .op(op::TUPLE)
        .put(3);
    for _ in 0..3 {
        p.op(op::POP);
    }
    for k in 0..arrays {
        p.str(&format!("W{k}"));
        p.get(0)
            .get(1)
            .op(op::REDUCE)
            .get(3)
            .op(op::BUILD)
            .op(op::SETITEM);
    }
    p.op(op::STOP);
    p.0
}

/// The same buffer DUPed onto the stack millions of times (one byte each), each copy kept.
fn dup_bomb(dups: usize) -> Vec<u8> {
    let mut p = Pickle::new();
    p.op(op::EMPTY_TUPLE);
    p.0.extend(std::iter::repeat_n(op::DUP, dups));
    p.op(op::STOP);
    p.0
}

#[test]
fn pickles_that_reuse_one_buffer_are_refused_within_a_memory_bound() {
    let d = dir().join("pickle-bombs");
    std::fs::create_dir_all(&d).unwrap();
    // The same files with two arrays are read as pickles (and refused only for not holding a
    // two-layer net's tensors): the bombs below are refused for their size alone.
    for (name, bytes) in [
        ("frombuffer-two.pkl", frombuffer_bomb(2)),
        ("reconstruct-two.pkl", reconstruct_bomb(2)),
    ] {
        let f = d.join(name);
        std::fs::write(&f, &bytes).unwrap();
        let o = backprop(&[
            "eval",
            "--model",
            f.to_str().unwrap(),
            "--arch",
            "two-layer",
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains("missing tensor W2"), "{name}: {err}");
    }
    for (name, bytes) in [
        // 400 arrays of 4 MiB: 1.6 GB believed, from a file of 4 MiB + 10 KB.
        ("frombuffer-bomb.pkl", frombuffer_bomb(400)),
        ("reconstruct-bomb.pkl", reconstruct_bomb(400)),
        // 32 Mi stack entries of 16+ bytes from a 32 MiB file.
        ("dup-bomb.pkl", dup_bomb(32 << 20)),
    ] {
        let f = d.join(name);
        std::fs::write(&f, &bytes).unwrap();
        let f = f.to_str().unwrap();
        let out = d.join("out.safetensors");
        bad_file(
            &[
                "import",
                f,
                "--arch",
                "two-layer",
                "--out",
                out.to_str().unwrap(),
            ],
            name,
        );
        bad_file(&["eval", "--model", f, "--arch", "two-layer"], name);
        let o = backprop(&["eval", "--model", f, "--arch", "two-layer"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("memory"), "{name}: {err}");
    }
}

/// A `width × height` PNG of `color` at `depth`, black but for a white square in the middle,
/// written row by row (the pixels are never all in memory).
fn large_png(path: &Path, width: u32, height: u32, color: png::ColorType, depth: png::BitDepth) {
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut encoder = png::Encoder::new(file, width, height);
    encoder.set_color(color);
    encoder.set_depth(depth);
    encoder.set_compression(png::Compression::Balanced);
    let mut writer = encoder.write_header().unwrap();
    let mut stream = writer.stream_writer().unwrap();
    let bytes_per_pixel = color.samples()
        * if depth == png::BitDepth::Sixteen {
            2
        } else {
            1
        };
    let row = width as usize * bytes_per_pixel;
    let (black, mut inked) = (vec![0u8; row], vec![0u8; row]);
    let (x0, x1) = (width as usize / 4, 3 * width as usize / 4);
    inked[x0 * bytes_per_pixel..x1 * bytes_per_pixel].fill(0xff);
    use std::io::Write;
    for y in 0..height {
        let ink = (height / 4..3 * height / 4).contains(&y);
        stream.write_all(if ink { &inked } else { &black }).unwrap();
    }
    stream.finish().unwrap();
}

#[test]
fn image_bombs_are_refused_and_the_largest_images_predict_within_the_memory_bound() {
    let d = dir().join("image-bombs");
    std::fs::create_dir_all(&d).unwrap();
    let good = p("good.safetensors");
    // 20000×20000 grey: 400 M pixels in a file of about half a megabyte.
    let bomb = d.join("bomb.png");
    large_png(
        &bomb,
        20000,
        20000,
        png::ColorType::Grayscale,
        png::BitDepth::Eight,
    );
    assert!(std::fs::metadata(&bomb).unwrap().len() < 1 << 20);
    let bomb = bomb.to_str().unwrap();
    bad_file(&["predict", "--model", &good, bomb], "bomb.png");
    let o = backprop(&["predict", "--model", &good, bomb]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("20000×20000") && err.contains("pixels"),
        "{err}"
    );
    // Just within the bound, in the format that takes most bytes per pixel (RGBA, 16 bits):
    // classified within the address-space limit, as a white square on black.
    let side = (backprop::io::image::MAX_PIXELS as f64).sqrt() as u32;
    assert_eq!(
        side as usize * side as usize,
        backprop::io::image::MAX_PIXELS
    );
    let (w, h) = (side, side);
    let largest = d.join("largest.png");
    large_png(&largest, w, h, png::ColorType::Rgba, png::BitDepth::Sixteen);
    let o = backprop(&[
        "predict",
        "--model",
        &good,
        "--json",
        largest.to_str().unwrap(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["original_size"], serde_json::json!([w, h]));
    assert_eq!(v["inverted"], false);
}

#[test]
fn truncated_and_corrupt_images_are_refused() {
    let d = dir().join("truncated-images");
    std::fs::create_dir_all(&d).unwrap();
    let good = p("good.safetensors");
    let mut pgm = b"P5 4 3 255\n".to_vec();
    pgm.extend((0..12u8).map(|v| v * 20));
    let jpeg = |name: &str| {
        let images = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images");
        (name.to_string(), std::fs::read(images.join(name)).unwrap())
    };
    let images: Vec<(String, Vec<u8>)> = vec![
        jpeg("grey4x3.jpg"),
        jpeg("rgb6x4.jpg"),
        ("image.png".into(), png()),
        ("image.pgm".into(), pgm),
    ];
    for (name, bytes) in &images {
        // The whole file is read...
        let f = d.join(name);
        std::fs::write(&f, bytes).unwrap();
        let o = backprop(&["predict", "--model", &good, f.to_str().unwrap()]);
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        // ...and no part of it is: cut in the header, the pixel data, just before the end
        // marker, and within it.
        let n = bytes.len();
        for cut in [n / 5, n / 2, 3 * n / 4, n - 3, n - 2, n - 1] {
            let cut_name = format!("cut{cut}-{name}");
            let f = d.join(&cut_name);
            std::fs::write(&f, &bytes[..cut]).unwrap();
            bad_file(
                &["predict", "--model", &good, f.to_str().unwrap()],
                &cut_name,
            );
        }
    }
    // Corrupt: the PNG with a flipped byte in its compressed data (its CRC no longer
    // matches); the JPEGs with a damaged start-of-scan marker. (A JPEG has no checksum: most
    // flipped bytes in its tables or coded data decode to another image without a sign.)
    for (name, bytes) in &images[..3] {
        let mut bytes = bytes.clone();
        let at = match bytes.windows(2).position(|w| w == [0xFF, 0xDA]) {
            Some(sos) if name.ends_with(".jpg") => sos + 1,
            _ => bytes.len() - 20,
        };
        bytes[at] ^= 0x5a;
        let bad_name = format!("corrupt-{name}");
        let f = d.join(&bad_name);
        std::fs::write(&f, &bytes).unwrap();
        bad_file(
            &["predict", "--model", &good, f.to_str().unwrap()],
            &bad_name,
        );
    }
}

/// A one-step simple-conv model (a conv layer for `show filters`), trained once.
fn conv_model() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        let path = p("conv.safetensors");
        let o = backprop(&[
            "train",
            "--model",
            "simple-conv",
            "--iters",
            "1",
            "--save",
            &path,
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        path
    })
}

/// Outputs that would overwrite each other, an input, or the checkpoints: exit 2 before any
/// work (nothing on stdout), the message naming both flags, and nothing written.
#[test]
fn outputs_that_collide_are_refused_before_any_work() {
    let d = scratch("collide");
    std::fs::create_dir_all(d.join("sub")).unwrap();
    let at = |name: &str| d.join(name).to_str().unwrap().to_string();
    // The same file by another spelling: through a subdirectory and back.
    let x_png = at("x.png");
    let x_png_again = at("sub/../x.png");
    let model = at("model.safetensors");
    std::fs::copy(conv_model(), &model).unwrap();
    let model_bytes = std::fs::read(&model).unwrap();
    let pickle = at("params.pkl");
    std::fs::copy(fixture("two_layer.pkl"), &pickle).unwrap();
    let ck = at("ck");
    let ck_step = format!("{ck}/step-00000015.safetensors");
    let cases: Vec<(Vec<&str>, [&str; 2])> = vec![
        (
            vec![
                "train", "--epochs", "1", "--save", &x_png, "--report", &x_png,
            ],
            ["--save", "--report"],
        ),
        (
            vec![
                "train",
                "--epochs",
                "1",
                "--save",
                &x_png,
                "--plot",
                &x_png_again,
            ],
            ["--save", "--plot"],
        ),
        (
            vec![
                "train", "--epochs", "1", "--report", &x_png, "--plot", &x_png,
            ],
            ["--report", "--plot"],
        ),
        (
            vec![
                "train",
                "--epochs",
                "1",
                "--checkpoint-dir",
                &ck,
                "--save",
                &ck,
            ],
            ["--save", "--checkpoint-dir"],
        ),
        (
            vec![
                "train",
                "--epochs",
                "1",
                "--checkpoint-dir",
                &ck,
                "--save",
                &ck_step,
            ],
            ["--save", "--checkpoint-dir"],
        ),
        (
            vec!["graph", "apple", "--svg", &x_png, "--dot", &x_png_again],
            ["--svg", "--dot"],
        ),
        (
            vec!["show", "filters", "--model", &model, "--out", &model],
            ["--out", "--model"],
        ),
        (
            vec!["import", &pickle, "--arch", "two-layer", "--out", &pickle],
            ["--out", "FILE"],
        ),
    ];
    for (args, [a, b]) in &cases {
        let o = backprop(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert!(err.contains(a) && err.contains(b), "{args:?}: {err}");
        assert!(
            o.stdout.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        assert!(!Path::new(&x_png).exists(), "{args:?} wrote {x_png}");
        assert!(!Path::new(&ck).exists(), "{args:?} made {ck}");
    }
    assert_eq!(std::fs::read(&model).unwrap(), model_bytes);
    assert_eq!(
        std::fs::read(&pickle).unwrap(),
        std::fs::read(fixture("two_layer.pkl")).unwrap()
    );
    // Distinct outputs beside a checkpoint directory are fine.
    let o = backprop(&[
        "train",
        "--iters",
        "2",
        "--checkpoint-dir",
        &ck,
        "--save",
        &format!("{ck}/final.safetensors"),
        "--plot",
        &x_png,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(Path::new(&x_png).is_file() && Path::new(&ck).join("final.safetensors").is_file());
}

/// An output that cannot be written is refused (exit 1, naming it) before training starts:
/// a directory where the file should go, a parent that is a regular file, and a directory
/// that even root cannot create files in (/proc; CI runs as root).
#[test]
fn an_output_that_cannot_be_written_is_refused_before_training() {
    let in_file = format!("{}/x.safetensors", p("random"));
    let in_proc = "/proc/backprop-cannot-write.safetensors".to_string();
    let dir_itself = p("a-directory");
    for path in [&in_file, &in_proc, &dir_itself] {
        for flag in ["--save", "--report"] {
            let o = backprop(&["train", "--epochs", "1", flag, path]);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(1), "{flag} {path}: {err}");
            assert!(
                err.starts_with("error: ") && err.contains(path.as_str()),
                "{err}"
            );
            assert!(
                o.stdout.is_empty(),
                "{flag} {path}: trained first: {}",
                String::from_utf8_lossy(&o.stdout)
            );
        }
    }
    let o = backprop(&[
        "train",
        "--epochs",
        "1",
        "--checkpoint-dir",
        "/proc/backprop-ck",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("/proc/backprop-ck"), "{err}");
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    refused(
        &["graph", "apple", "--svg", &in_proc],
        1,
        Some(in_proc.as_str()),
    );
    refused(
        &[
            "show",
            "filters",
            "--model",
            conv_model(),
            "--out",
            &in_proc,
        ],
        1,
        Some(in_proc.as_str()),
    );
}

/// A model file as `train --save` writes it, with `arch` and `input_shape` as given and
/// F32 zeros of the given shapes: what a hand-crafted file can declare.
fn crafted_model(
    arch: serde_json::Value,
    input_shape: [usize; 3],
    tensors: &[(&str, &[usize])],
) -> Vec<u8> {
    use safetensors::tensor::{Dtype, TensorView};
    let data: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, s)| vec![0u8; 4 * s.iter().product::<usize>()])
        .collect();
    let views: Vec<(&str, TensorView<'_>)> = tensors
        .iter()
        .zip(&data)
        .map(|((n, s), d)| (*n, TensorView::new(Dtype::F32, s.to_vec(), d).unwrap()))
        .collect();
    let meta = std::collections::HashMap::from([
        ("format".to_string(), "backprop-model".to_string()),
        ("format_version".to_string(), "1".to_string()),
        ("arch".to_string(), arch.to_string()),
        (
            "input_shape".to_string(),
            serde_json::json!(input_shape).to_string(),
        ),
        ("class_names".to_string(), r#"["a","b"]"#.to_string()),
    ]);
    safetensors::serialize(views, Some(meta)).unwrap()
}

#[test]
fn model_files_that_declare_huge_networks_are_refused_on_load() {
    use serde_json::json;
    let d = dir().join("model-bombs");
    std::fs::create_dir_all(&d).unwrap();
    let big = 65536;
    let files = [
        // Hidden size 0: every weight is empty, so a 65536×65536 input costs no bytes in the
        // file, but 16 GB to prepare one image for.
        (
            "two-layer-hidden-0.safetensors",
            crafted_model(
                json!({"name": "two-layer", "hidden": 0, "weight_init_std": 0.01}),
                [1, big, big],
                &[
                    ("W1", &[big * big, 0]),
                    ("b1", &[0]),
                    ("W2", &[0, 2]),
                    ("b2", &[2]),
                ],
            ),
            "hidden",
        ),
        (
            "multi-layer-hidden-0.safetensors",
            crafted_model(
                json!({"name": "multi-layer", "hidden": [0], "activation": "relu",
                       "init": "he", "batch_norm": false, "dropout": null, "weight_decay": 0.0}),
                [1, big, big],
                &[
                    ("W1", &[big * big, 0]),
                    ("b1", &[0]),
                    ("W2", &[0, 2]),
                    ("b2", &[2]),
                ],
            ),
            "hidden",
        ),
        // 100×100 filters over a 299×299 image: 80 KB of weights, but the convolution's
        // unrolled input holds 200·200 windows of 100·100 values (1.6 GB).
        (
            "simple-conv-wide-filter.safetensors",
            crafted_model(
                json!({"name": "simple-conv", "filter_num": 1, "filter_size": 100, "pad": 0,
                       "stride": 1, "hidden": 1, "weight_init_std": 0.01}),
                [1, 299, 299],
                &[
                    ("W1", &[1, 1, 100, 100]),
                    ("b1", &[1]),
                    ("W2", &[10000, 1]),
                    ("b2", &[1]),
                    ("W3", &[1, 2]),
                    ("b3", &[2]),
                ],
            ),
            "values",
        ),
    ];
    for (name, bytes, says) in &files {
        assert!(bytes.len() < 100_000, "{name}: {}", bytes.len());
        let f = d.join(name);
        std::fs::write(&f, bytes).unwrap();
        let f = f.to_str().unwrap();
        bad_file(&["predict", "--model", f, &p("image.png")], name);
        bad_file(&["eval", "--model", f], name);
        let o = backprop(&["eval", "--model", f]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{name}: {err}");
    }
}

/// A data directory of `train` and `test` 8×8 images (labels 0, 1, 2, … so that there are
/// several classes).
fn data_dir(name: &str, train: u32, test: u32) -> String {
    let d = dir().join(name);
    std::fs::create_dir_all(&d).unwrap();
    let labels = |n: u32| {
        let mut v = vec![0, 0, 8, 1];
        v.extend(n.to_be_bytes());
        v.extend((0..n).map(|i| (i % 3) as u8));
        v
    };
    let images = |n: u32| idx_images(n, 8, 8, &vec![7; n as usize * 64]);
    std::fs::write(d.join("train-images-idx3-ubyte"), images(train)).unwrap();
    std::fs::write(d.join("train-labels-idx1-ubyte"), labels(train)).unwrap();
    std::fs::write(d.join("t10k-images-idx3-ubyte"), images(test)).unwrap();
    std::fs::write(d.join("t10k-labels-idx1-ubyte"), labels(test)).unwrap();
    d.to_str().unwrap().to_string()
}

/// Empty sets are refused as `train` refuses them (exit 2), by every command that needs them:
/// `gradcheck` without training images, `eval` without test images (not "0/0, exit 0").
#[test]
fn empty_training_or_test_sets_are_refused() {
    let no_train = data_dir("data-no-train", 0, 6);
    let no_test = data_dir("data-no-test", 6, 0);
    for args in [
        vec!["gradcheck", "--data", &no_train],
        vec!["train", "--data", &no_train, "--epochs", "1"],
        vec!["train", "--data", &no_test, "--epochs", "1"],
    ] {
        refused(&args, 2, None);
        let err = String::from_utf8_lossy(&backprop(&args).stderr).into_owned();
        assert!(
            err.contains("no training") || err.contains("no test"),
            "{args:?}: {err}"
        );
    }
    let good = p("good.safetensors");
    let args = ["eval", "--model", &good, "--data", &no_test];
    refused(&args, 2, None);
    let o = backprop(&args);
    assert!(String::from_utf8_lossy(&o.stderr).contains("no test"));
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

/// A symbolic link loop is reported as one, not as a missing file.
#[test]
fn a_symlink_loop_is_reported_as_one() {
    let d = dir().join("loops");
    std::fs::create_dir_all(&d).unwrap();
    let (a, b) = (d.join("loop-a"), d.join("loop-b"));
    let _ = std::os::unix::fs::symlink(&b, &a);
    let _ = std::os::unix::fs::symlink(&a, &b);
    let looped_file = data_dir("data-looped-file", 6, 6);
    let images = Path::new(&looped_file).join("train-images-idx3-ubyte");
    std::fs::remove_file(&images).unwrap();
    std::os::unix::fs::symlink(&images, &images).unwrap();
    let a = a.to_str().unwrap();
    for (args, names) in [
        (vec!["train", "--data", a, "--epochs", "1"], "loop-a"),
        (vec!["eval", "--model", a], "loop-a"),
        (
            vec!["train", "--data", &looped_file, "--epochs", "1"],
            "data-looped-file/train-images-idx3-ubyte",
        ),
        (
            vec!["data", "import", "mnist", &looped_file],
            "train-images-idx3-ubyte",
        ),
    ] {
        refused(&args, 1, Some(names));
        let err = String::from_utf8_lossy(&backprop(&args).stderr).to_lowercase();
        assert!(
            err.contains("too many levels of symbolic links"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("no such file"), "{args:?}: {err}");
    }
}

/// Class names come from the model file: their control characters are printed escaped, so a
/// file cannot send escape sequences to the terminal.
#[test]
fn control_characters_in_class_names_are_printed_escaped() {
    use backprop::io::safetensors;
    let path = dir().join("escapes.safetensors");
    let mut m = safetensors::load::<f32>(&dir().join("good.safetensors")).unwrap();
    let n = m.info.class_names.len();
    m.info.class_names = (0..n).map(|i| format!("\x1b[31mred{i}\x07\r")).collect();
    safetensors::save(&path, &mut m.net, &m.info).unwrap();
    let o = backprop(&[
        "predict",
        "--model",
        path.to_str().unwrap(),
        "--top",
        &n.to_string(),
        &p("image.png"),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        !out.chars().any(|c| c.is_control() && c != '\n'),
        "control characters printed: {out:?}"
    );
    for i in 0..n {
        assert!(
            out.contains(&format!("\\u{{1b}}[31mred{i}\\u{{7}}\\r")),
            "{out}"
        );
    }
}

/// Sizes that overflow or cannot fit in memory are refused with exit 2 before anything is
/// allocated: no panic (101), no allocation failure (134).
#[test]
fn absurd_sizes_are_refused_before_allocating() {
    let max = usize::MAX.to_string();
    let max = max.as_str();
    for args in [
        vec!["train", "--hidden", max, "--epochs", "1"],
        vec![
            "train",
            "--model",
            "simple-conv",
            "--hidden",
            max,
            "--epochs",
            "1",
        ],
        vec![
            "train",
            "--batch-size",
            max,
            "--sampling",
            "replacement",
            "--epochs",
            "1",
        ],
        vec!["train", "--epochs", max],
        vec!["gradcheck", "--hidden", max],
        vec!["train", "--hidden", "100000000", "--epochs", "1"],
        vec![
            "train",
            "--model",
            "multi-layer",
            "--hidden",
            "100000,100000",
            "--epochs",
            "1",
        ],
        vec!["gradcheck", "--hidden", "100000000"],
    ] {
        refused(&args, 2, None);
        let o = backprop(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("memory") || err.contains("too large"),
            "{args:?}: {err}"
        );
    }
    // A batch larger than the set, drawn without replacement, is the whole set.
    let o = backprop(&["train", "--batch-size", max, "--epochs", "1"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// A write error on stdout (a full disk) is `error: …` and exit 1 for every command, not a
/// panic; a closed pipe still ends quietly (a_closed_stdout_ends_every_command_quietly).
#[test]
fn a_full_stdout_is_an_error_not_a_panic() {
    let good = p("good.safetensors");
    let image = p("image.png");
    let cases: &[&[&str]] = &[
        &["graph", "apple"],
        &["graph", "apple", "--json"],
        &["data", "list"],
        &["eval", "--model", &good],
        &["predict", "--model", &good, &image],
        &["gradcheck"],
        &["train", "--epochs", "1"],
        &["train", "--epochs", "1", "--json"],
        &["experiment", "init", "--dataset", "digits", "--iters", "2"],
        &["--help"],
        &["--version"],
    ];
    for args in cases {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let o = backprop_command()
            .args(*args)
            .stdout(full)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert!(err.contains("No space left on device"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// `--iters` of 2⁶⁴−1 is a long run, not an allocation for every step's loss up front: the
/// run gets to its first evaluation (under the address-space limit) and is then stopped.
#[test]
fn the_largest_iteration_count_starts_training() {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {MEMORY_KIB}; exec \"$0\" \"$@\""))
        .arg(BIN)
        .args([
            "train",
            "--iters",
            &usize::MAX.to_string(),
            "--eval-every",
            "5",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().and_then(|l| l.ok());
    let second = lines.next().and_then(|l| l.ok());
    let _ = child.kill();
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(
        !err.contains("panicked") && !err.contains("memory allocation"),
        "{err}"
    );
    assert!(
        first.is_some_and(|l| l.starts_with("training ")),
        "{status:?} {err}"
    );
    assert!(
        second.is_some_and(|l| l.starts_with("epoch ")),
        "{status:?} {err}"
    );
}

/// An absurd `--threads` is a usage error for every command, before any thread starts.
#[test]
fn absurd_thread_counts_are_refused() {
    for args in [
        vec!["graph", "apple", "--threads", "100000"],
        vec!["train", "--epochs", "1", "--threads", "100000"],
        vec!["--threads", "4097", "data", "list"],
    ] {
        refused(&args, 2, None);
        let err = String::from_utf8_lossy(&backprop(&args).stderr).into_owned();
        assert!(err.contains("at most"), "{args:?}: {err}");
    }
}

/// The threads of a running command, counted once it is blocked writing its first line to a
/// pipe that is already full: by then it has started every thread it starts before printing.
fn threads_when_blocked(args: &[&str]) -> usize {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    let (reader, mut writer) = std::io::pipe().unwrap();
    // SAFETY: F_GETPIPE_SZ only reads the pipe's capacity.
    let capacity = unsafe { libc::fcntl(writer.as_raw_fd(), libc::F_GETPIPE_SZ) };
    writer.write_all(&vec![b'.'; capacity as usize]).unwrap();
    let mut child = backprop_command()
        .args(args)
        .stdout(writer.try_clone().unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    drop(writer);
    let proc = format!("/proc/{}", child.id());
    let blocked = || {
        let wchan = std::fs::read_to_string(format!("{proc}/wchan")).unwrap_or_default();
        let syscall = std::fs::read_to_string(format!("{proc}/syscall")).unwrap_or_default();
        // write(2) is syscall 1 on x86-64, 64 on aarch64.
        let write = if cfg!(target_arch = "aarch64") {
            "64 "
        } else {
            "1 "
        };
        wchan.contains("pipe_write") || syscall.starts_with(write)
    };
    let start = Instant::now();
    while !blocked() {
        assert!(
            start.elapsed() < QUICK,
            "{args:?} never blocked on its output"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let threads = std::fs::read_dir(format!("{proc}/task")).unwrap().count();
    child.kill().unwrap();
    child.wait().unwrap();
    drop(reader);
    threads
}

/// `graph` does no parallel work: `--threads 4` starts no pool for it, while `train` builds
/// one of 4 before its first line (its main thread and 3 more).
#[test]
fn commands_without_parallel_work_start_no_threads() {
    assert_eq!(
        threads_when_blocked(&["graph", "apple", "--threads", "4"]),
        1
    );
    assert_eq!(threads_when_blocked(&["data", "list", "--threads", "4"]), 1);
    assert!(threads_when_blocked(&["train", "--epochs", "1", "--threads", "4"]) >= 4);
}

/// An output that is one of the data files being trained on is refused before training, so
/// that the training set is not overwritten by a model.
#[test]
fn an_output_over_a_data_file_is_refused() {
    let data = data_dir("data-overwritten", 6, 6);
    let images = format!("{data}/train-images-idx3-ubyte");
    let before = std::fs::read(&images).unwrap();
    for flag in ["--save", "--report"] {
        let args = ["train", "--data", &data, "--epochs", "1", flag, &images];
        refused(&args, 2, None);
        let err = String::from_utf8_lossy(&backprop(&args).stderr).into_owned();
        assert!(err.contains(flag) && err.contains("--data"), "{err}");
    }
    assert_eq!(std::fs::read(&images).unwrap(), before);
}
