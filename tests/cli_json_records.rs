//! `backprop train --json` prints the library's records: each evaluation line is a
//! [`EpochRecord`] and the last line a [`RunRecord`], as serde writes them, so that the Python
//! package and the lab get the same objects.

mod common;

use backprop::run::{Hooks, Run, RunSpec};
use backprop::train::{EpochRecord, Event, Length};
use common::{backprop, stderr, stdout};
use serde_json::Value;

/// Timings differ between two runs; everything else is decided by the seed.
const TIMES: [&str; 3] = ["seconds", "samples_per_sec", "train_seconds"];

/// `line` and `library` as JSON objects: the same keys in the same order, and the same
/// values but for the timings.
fn same_object(line: &str, library: &str) {
    let (a, b): (Value, Value) = (
        serde_json::from_str(line).unwrap(),
        serde_json::from_str(library).unwrap(),
    );
    let (a, b) = (a.as_object().unwrap(), b.as_object().unwrap());
    let keys = |o: &serde_json::Map<String, Value>| o.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(a), keys(b), "{line}\n{library}");
    for (k, v) in a {
        if !TIMES.contains(&k.as_str()) {
            assert_eq!(v, &b[k], "{k}: {line}\n{library}");
        }
    }
}

#[test]
fn train_json_lines_are_the_librarys_records() {
    let o = backprop(&["train", "--json", "--epochs", "3", "--hidden", "5"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");

    let mut spec = RunSpec {
        arch: backprop::nets::Arch::TwoLayer {
            hidden: 5,
            weight_init_std: 0.01,
        },
        ..RunSpec::default()
    };
    spec.schedule.length = Some(Length::Epochs(3));
    let mut run = Run::<f32>::new(&spec).unwrap();
    let mut records: Vec<EpochRecord> = Vec::new();
    let summary = run
        .train(Hooks {
            on_event: Some(&mut |e: Event| {
                if let Event::Eval(r) = e {
                    records.push(r.clone());
                }
            }),
            ..Hooks::default()
        })
        .unwrap();
    for (line, r) in lines.iter().zip(&records) {
        same_object(line, &serde_json::to_string(r).unwrap());
    }
    let record = run.record(&summary);
    same_object(lines[3], &serde_json::to_string(&record).unwrap());
    // The field order is the one `train --json` has always printed.
    assert!(
        lines[3].starts_with(
            r#"{"final":true,"model":"two-layer","dataset":"digits","params":385,"iters":45,"#
        ),
        "{}",
        lines[3]
    );
    assert!(
        lines[0].starts_with(r#"{"epoch":1,"iter":15,"loss":"#),
        "{}",
        lines[0]
    );
}
