//! Replays every file of the `expr` fuzz target's corpus (`fuzz/corpus/expr/`) through the
//! same checks the fuzzer runs, so CI catches regressions without a fuzzer.

#[test]
fn expr_corpus_replays_without_panics() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/expr");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("the corpus directory exists") {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        // A panic here names the input through the test's output.
        eprintln!("{}", path.display());
        backprop::graph::expr::check_input(&bytes);
        n += 1;
    }
    assert!(n >= 10, "only {n} corpus files in {dir}");
}
