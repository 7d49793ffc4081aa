//! Replays the fuzzers' corpora (`fuzz/corpus/TARGET/`, seeds plus whatever the fuzzers
//! found worth keeping) as ordinary tests, so CI checks them without a fuzzer: every input
//! must give a result, never a panic.

use std::path::Path;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.unwrap().path();
            (p.display().to_string(), std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "{} is empty", dir.display());
    out
}

#[test]
fn pickle_corpus_never_panics() {
    let mut ok = 0;
    for (name, bytes) in corpus("pickle") {
        let r = std::panic::catch_unwind(|| {
            let tensors = backprop::io::pickle::parse_pickle(&bytes)?;
            // As the fuzz target does: import what parsed as a TwoLayerNet.
            let _ = backprop::io::import::network_from_tensors::<f32>(
                &backprop::nets::Arch::book("two-layer").unwrap(),
                &tensors,
                Path::new("corpus"),
            );
            Ok::<_, backprop::io::pickle::PickleError>(())
        });
        match r {
            Ok(r) => ok += r.is_ok() as usize,
            Err(_) => panic!("{name} panics"),
        }
    }
    // The seeds include valid files; the reader must still accept them.
    assert!(ok >= 5, "only {ok} corpus files parse");
}

#[test]
fn safetensors_corpus_never_panics() {
    let mut ok = 0;
    for (name, bytes) in corpus("safetensors") {
        let r = std::panic::catch_unwind(|| {
            backprop::io::safetensors::from_bytes::<f32>(&bytes, Path::new("corpus"))
        });
        match r {
            Ok(r) => ok += r.is_ok() as usize,
            Err(_) => panic!("{name} panics"),
        }
    }
    assert!(ok >= 2, "only {ok} corpus files load");
}
