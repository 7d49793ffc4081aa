//! `--data`, `--dataset` and `backprop data …` driven as a user would, on small synthetic
//! IDX files (the real sets are exercised in tests/mnist.rs).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{backprop_command, idx, scratch, stderr};

/// Runs the binary with an isolated environment: no BACKPROP_DATA, and a cache of its own.
fn backprop(args: &[&str], cache: &Path) -> Output {
    backprop_command()
        .args(args)
        .env_remove("BACKPROP_DATA")
        .env_remove("BACKPROP_MIRROR")
        .env("XDG_CACHE_HOME", cache)
        .env("BACKPROP_FETCH_BACKOFF_MS", "1")
        .output()
        .expect("the binary runs")
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A learnable toy set in IDX files: class c lights up row c of a 10×4 image. Train files
/// raw, test files gzipped, to cover both.
fn toy_dir(tag: &str) -> PathBuf {
    let dir = scratch(tag);
    let make = |n: usize| {
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        let mut images = vec![0u8; n * 40];
        for (i, &l) in labels.iter().enumerate() {
            for x in 0..4 {
                images[i * 40 + l as usize * 4 + x] = 200 + (i % 50) as u8;
            }
        }
        (idx(&[n as u32, 10, 4], &images), idx(&[n as u32], &labels))
    };
    let (x, t) = make(200);
    std::fs::write(dir.join("train-images-idx3-ubyte"), x).unwrap();
    std::fs::write(dir.join("train-labels-idx1-ubyte"), t).unwrap();
    let (x, t) = make(50);
    std::fs::write(dir.join("t10k-images-idx3-ubyte.gz"), gz(&x)).unwrap();
    std::fs::write(dir.join("t10k-labels-idx1-ubyte.gz"), gz(&t)).unwrap();
    dir
}

#[test]
fn train_reads_any_directory_of_idx_files() {
    let dir = toy_dir("toy");
    let d = dir.to_str().unwrap();
    let o = backprop(&["train", "--data", d, "--epochs", "30", "--json"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let last: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(last["dataset"], d);
    assert_eq!(last["test_acc"], 1.0, "{out}");
    // a custom set is accepted under a named --dataset too (it is not the other known set)
    let o = backprop(
        &["train", "--dataset", "mnist", "--data", d, "--iters", "2"],
        &dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn data_conflicting_with_dataset_digits_is_a_usage_error() {
    let dir = toy_dir("conflict");
    let o = backprop(
        &[
            "train",
            "--dataset",
            "digits",
            "--data",
            dir.to_str().unwrap(),
        ],
        &dir,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("conflicts with --dataset digits"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_bad_file_is_a_one_line_error_naming_it() {
    let dir = toy_dir("bad");
    let d = dir.to_str().unwrap();
    let labels = dir.join("train-labels-idx1-ubyte");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (idx(&[200], &[0; 150]), "too short"),
        (idx(&[200], &[0; 201]), "1 trailing bytes"),
        (idx(&[200], &[10; 200]), "label 10 at index 0"),
        (
            idx(&[199], &[0; 199]),
            "199 labels, but the image file holds 200",
        ),
        (idx(&[200, 1, 1], &[0; 200]), "expected 0x00000801"),
        (vec![0, 0, 9, 1, 0], "type byte 0x09"),
        (vec![0, 0], "too short"),
    ];
    for (bytes, problem) in cases {
        std::fs::write(&labels, &bytes).unwrap();
        let o = backprop(&["train", "--data", d], &dir);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
        let expected = format!("error: {}: ", labels.display());
        assert!(
            e.starts_with(&expected) && e.contains(problem),
            "{problem}: {e}"
        );
    }
    std::fs::remove_file(&labels).unwrap();
    let o = backprop(&["train", "--data", d], &dir);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("train-labels-idx1-ubyte"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_named_set_says_how_to_get_it() {
    let cache = scratch("missing");
    let o = backprop(&["train", "--dataset", "mnist"], &cache);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("backprop data fetch mnist") && e.contains("backprop data import mnist DIR"),
        "{e}"
    );
    let o = backprop(&["data", "list"], &cache);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("mnist: not found"), "{out}");
    std::fs::remove_dir_all(&cache).unwrap();
}

#[test]
fn import_refuses_files_that_are_not_the_published_ones() {
    let dir = toy_dir("import");
    let cache = scratch("import-cache");
    let o = backprop(&["data", "import", "mnist", dir.to_str().unwrap()], &cache);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("the published train-images-idx3-ubyte has 47040016"));
    // nothing was placed in the cache
    assert!(!cache.join("backprop/mnist").exists());
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&cache).unwrap();
}

#[test]
#[cfg(feature = "fetch")]
fn fetch_from_a_mirror_serving_garbage_fails_and_leaves_the_cache_clean() {
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            while r.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let body = gz(b"not the published file");
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(&body);
        }
    });
    let cache = scratch("fetch");
    let o = backprop(&["data", "fetch", "mnist", "--mirror", &url], &cache);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("download failed on every mirror") && e.contains("22 bytes"),
        "{e}"
    );
    let placed: Vec<_> = std::fs::read_dir(cache.join("backprop/mnist"))
        .unwrap()
        .collect();
    assert!(placed.is_empty(), "{placed:?}");
    std::fs::remove_dir_all(&cache).unwrap();
}

#[test]
fn named_sets_are_looked_up_in_backprop_data_then_the_cache() {
    let toy = toy_dir("lookup-toy");
    let root = scratch("lookup");
    let place = |dir: &Path, n: usize| {
        std::fs::create_dir_all(dir).unwrap();
        for f in std::fs::read_dir(&toy).unwrap() {
            let f = f.unwrap().path();
            let name = f.file_name().unwrap();
            if n == 0 || !name.to_string_lossy().starts_with("t10k") {
                std::fs::copy(&f, dir.join(name)).unwrap();
            }
        }
    };
    let cache = root.join("cache");
    place(&cache.join("backprop/mnist"), 0);
    let run = |data: Option<&Path>| {
        let mut c = backprop_command();
        c.args(["train", "--dataset", "mnist", "--iters", "1"]);
        c.env("XDG_CACHE_HOME", &cache).env_remove("BACKPROP_DATA");
        if let Some(d) = data {
            c.env("BACKPROP_DATA", d);
        }
        c.output().unwrap()
    };
    // only the cache holds it
    let o = run(None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("200 train / 50 test"));
    // an incomplete $BACKPROP_DATA/mnist is skipped for the cache
    let data = root.join("data");
    place(&data.join("mnist"), 1);
    assert!(run(Some(&data)).status.success());
    // a complete one comes first: its corrupt file is what fails
    std::fs::write(data.join("mnist/t10k-labels-idx1-ubyte"), b"\0\0\x08\x01").unwrap();
    std::fs::copy(
        toy.join("t10k-images-idx3-ubyte.gz"),
        data.join("mnist/t10k-images-idx3-ubyte.gz"),
    )
    .unwrap();
    let o = run(Some(&data));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!("{}", data.join("mnist").display())),
        "{}",
        stderr(&o)
    );
    std::fs::remove_dir_all(&toy).unwrap();
    std::fs::remove_dir_all(&root).unwrap();
}
