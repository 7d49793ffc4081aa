//! The library builds without the command line's dependencies (issue 14): with
//! `--no-default-features` no package of the dependency graph is clap, indicatif or ctrlc,
//! and backprop itself does not depend on libc (tempfile still brings it, for getrandom).

use std::process::Command;

/// `cargo tree` over the normal dependencies, one `name vX.Y.Z` per line.
fn tree(args: &[&str]) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let o = Command::new(cargo)
        .args([
            "tree",
            "--locked",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| l.trim_end_matches(" (*)").to_string())
        .collect()
}

fn names(lines: &[String]) -> Vec<&str> {
    lines
        .iter()
        .filter_map(|l| l.split_whitespace().next())
        .collect()
}

#[test]
fn the_library_alone_pulls_no_command_line_crates() {
    let all = tree(&["--no-default-features"]);
    let all = names(&all);
    for cli_only in ["clap", "indicatif", "ctrlc", "console"] {
        assert!(!all.contains(&cli_only), "{cli_only} in {all:?}");
    }
    // backprop's own direct dependencies (depth 1) leave out libc too.
    let direct = tree(&["--no-default-features", "--depth", "1"]);
    let direct = names(&direct);
    assert!(direct.contains(&"ndarray"), "{direct:?}");
    assert!(!direct.contains(&"libc"), "{direct:?}");

    // The default build (the `cli` feature) has them: the check above can fail.
    let default = tree(&[]);
    let default = names(&default);
    for cli in ["clap", "indicatif", "ctrlc", "libc"] {
        assert!(default.contains(&cli), "{cli} not in {default:?}");
    }
}
