//! The READMEs: the English one links the Korean one at its top, both list the same
//! commands, every command of the Korean one exists, and every row of "The book, script by
//! script" names one of the book's files and runs (on the embedded digits, with fewer steps).

mod common;

use std::path::Path;

use common::{backprop, scratch, stderr, stdout};

fn read(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(name)).unwrap()
}

/// The part of README.md that README.ko.md translates: everything before "## Datasets"
/// except the Python section.
fn translated_part(readme: &str) -> String {
    let before = &readme[..readme.find("\n## Datasets").expect("a Datasets section")];
    before
        .split("\n## ")
        .filter(|section| !section.starts_with("Python"))
        .collect::<Vec<_>>()
        .join("\n## ")
}

/// The commands of a Markdown text: each line of its ```sh blocks without its comment, and
/// each `backprop …` in a table cell.
fn commands(md: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_sh = false;
    for line in md.lines() {
        if line.starts_with("```") {
            in_sh = !in_sh && line.trim() == "```sh";
            continue;
        }
        if in_sh {
            let cmd = line.split(" #").next().unwrap().trim();
            if !cmd.is_empty() && !cmd.starts_with('#') {
                out.push(cmd.to_string());
            }
        } else if line.starts_with('|') {
            for cell in line.split('|') {
                let cell = cell.trim();
                if let Some(cmd) = cell.strip_prefix("`backprop ") {
                    out.push(format!("backprop {}", cmd.trim_end_matches('`')));
                }
            }
        }
    }
    out
}

#[test]
fn the_readme_links_the_korean_one_at_its_top() {
    let en = read("README.md");
    let top: Vec<&str> = en.lines().take(4).collect();
    assert!(top.iter().any(|l| l.contains("(README.ko.md)")), "{top:?}");
    let ko = read("README.ko.md");
    assert!(ko.lines().take(4).any(|l| l.contains("(README.md)")));
    // Written in Korean, with the Korean edition's terms.
    for term in [
        "순전파",
        "역전파",
        "오차역전파법",
        "기울기 확인",
        "배치 정규화",
        "합성곱",
    ] {
        assert!(ko.contains(term), "README.ko.md lacks {term}");
    }
}

#[test]
fn both_readmes_list_the_same_commands() {
    let en = read("README.md");
    let en = commands(&translated_part(&en));
    let ko = commands(&read("README.ko.md"));
    assert!(en.len() > 30, "{en:?}");
    assert_eq!(en, ko, "README.md and README.ko.md list different commands");
}

/// Runs `backprop WORDS… --help` for the command's leading words and checks that every flag
/// it uses is one the help lists.
#[test]
fn every_command_of_the_korean_readme_exists() {
    for cmd in commands(&read("README.ko.md")) {
        let rest = match (
            cmd.strip_prefix("backprop "),
            cmd.strip_prefix("cargo run --release -- "),
        ) {
            (Some(r), _) | (_, Some(r)) => r,
            _ => continue, // cargo test …
        };
        let tokens: Vec<&str> = rest.split_whitespace().collect();
        let words: Vec<&str> = tokens
            .iter()
            .take_while(|t| !t.starts_with('-') && !t.contains('.') && !t.starts_with('"'))
            .copied()
            .collect();
        let mut args = words.clone();
        args.push("--help");
        let o = backprop(&args);
        assert!(o.status.success(), "{cmd}: {}", stderr(&o));
        let help = stdout(&o);
        for flag in tokens.iter().filter(|t| t.starts_with("--")) {
            assert!(
                help.contains(&format!("{flag} "))
                    || help.contains(&format!("{flag}\n"))
                    || help.contains(&format!("{flag}="))
                    || help.contains(&format!("{flag} <")),
                "{cmd}: {flag} is not a flag of `backprop {}`",
                words.join(" ")
            );
        }
    }
}

/// The book's files of chapters 5–8, in the repository's order.
const SCRIPTS: [(&str, &str); 25] = [
    ("5", "layer_naive.py"),
    ("5", "buy_apple.py"),
    ("5", "buy_apple_orange.py"),
    ("5", "two_layer_net.py"),
    ("5", "gradient_check.py"),
    ("5", "train_neuralnet.py"),
    ("6", "optimizer_compare_naive.py"),
    ("6", "optimizer_compare_mnist.py"),
    ("6", "weight_init_activation_histogram.py"),
    ("6", "weight_init_compare.py"),
    ("6", "batch_norm_test.py"),
    ("6", "batch_norm_gradient_check.py"),
    ("6", "overfit_weight_decay.py"),
    ("6", "overfit_dropout.py"),
    ("6", "hyperparameter_optimization.py"),
    ("7", "simple_convnet.py"),
    ("7", "gradient_check.py"),
    ("7", "train_convnet.py"),
    ("7", "visualize_filter.py"),
    ("7", "apply_filter.py"),
    ("8", "deep_convnet.py"),
    ("8", "train_deepnet.py"),
    ("8", "misclassified_mnist.py"),
    ("8", "half_float_network.py"),
    ("8", "awesome_net.py"),
];

/// The rows of the table: (chapter, script, command).
fn book_table(readme: &str) -> Vec<(String, String, String)> {
    let start = readme
        .find("## The book, script by script")
        .expect("the book table section");
    let section = &readme[start..];
    let end = section[3..].find("\n## ").map_or(section.len(), |e| e + 3);
    section[..end]
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| chapter") && !l.starts_with("| ---"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let unquote = |s: &str| s.trim_matches('`').to_string();
            (cells[1].to_string(), unquote(cells[2]), unquote(cells[4]))
        })
        .collect()
}

/// A README command made quick: the embedded digits instead of MNIST, one epoch or a few
/// steps, fewer samples and trials for the experiments.
fn quick(cmd: &str) -> Vec<String> {
    let tokens: Vec<&str> = cmd.split_whitespace().skip(1).collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        match tokens[i] {
            "--dataset" if tokens.get(i + 1) == Some(&"mnist") => i += 2,
            "--epochs" => {
                out.extend(["--epochs".into(), "1".into()]);
                i += 2;
            }
            "--iters" => {
                out.extend(["--iters".into(), "20".into()]);
                i += 2;
            }
            t => {
                out.push(t.to_string());
                i += 1;
            }
        }
    }
    let has = |f: &str| out.iter().any(|t| t == f);
    let extra: &[&str] = match (out[0].as_str(), out.get(1).map(String::as_str)) {
        ("experiment", Some("optimizers" | "init")) => &["--iters", "20"],
        ("experiment", Some("batch-norm" | "weight-decay" | "dropout")) => {
            &["--epochs", "1", "--samples", "100"]
        }
        ("experiment", Some("hyperparams")) => {
            &["--trials", "2", "--epochs", "1", "--samples", "100"]
        }
        ("train", _) if !has("--epochs") && !has("--iters") => &["--epochs", "1"],
        _ => &[],
    };
    out.extend(extra.iter().map(|s| s.to_string()));
    out
}

/// A 40×40 PNG of a bar, a "1", for `show feature-maps`.
fn write_digit(path: &Path) {
    let mut pixels = vec![255u8; 40 * 40];
    for y in 6..34 {
        for x in 17..23 {
            pixels[y * 40 + x] = 0;
        }
    }
    let bytes =
        backprop::io::image::encode_png(&pixels, 40, 40, png::ColorType::Grayscale).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn the_book_table_covers_every_script_and_every_row_runs() {
    let rows = book_table(&read("README.md"));
    let scripts: Vec<(&str, &str)> = rows
        .iter()
        .map(|(c, s, _)| (c.as_str(), s.as_str()))
        .collect();
    assert_eq!(scripts, SCRIPTS);
    let ko = commands(&read("README.ko.md"));
    for (_, script, cmd) in &rows {
        assert!(
            ko.contains(cmd),
            "README.ko.md lacks the row of {script}: {cmd}"
        );
    }

    let dir = scratch("book-table");
    write_digit(&dir.join("digit.png"));
    for (chapter, script, cmd) in &rows {
        let args = quick(cmd);
        let o = common::backprop_command()
            .args(&args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "ch{chapter} {script}: {args:?}: {}",
            stderr(&o)
        );
        // Every file the command names as an output exists afterwards.
        for (flag, file) in args.iter().zip(args.iter().skip(1)) {
            if ["--out", "--plot", "--save", "--svg", "--fresh"].contains(&flag.as_str()) {
                let meta = std::fs::metadata(dir.join(file));
                assert!(
                    meta.map(|m| m.len() > 0).unwrap_or(false),
                    "{script}: no {file}"
                );
            }
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// The Layout table has a row for every file and directory under `src/`, and each file of a
/// directory is named (with or without `.rs`) in that directory's row.
#[test]
fn the_layout_table_matches_the_tree() {
    let en = read("README.md");
    let start = en.find("\n## Layout").expect("a Layout section");
    let end = en[start + 1..]
        .find("\n## ")
        .map_or(en.len(), |i| start + 1 + i);
    let rows: Vec<&str> = en[start..end]
        .lines()
        .filter(|l| l.starts_with("| `"))
        .collect();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let dir = entry.file_type().unwrap().is_dir();
        let cell = if dir {
            format!("`src/{name}/`")
        } else {
            format!("`src/{name}`")
        };
        let Some(row) = rows.iter().find(|r| r.contains(&cell)) else {
            missing.push(cell);
            continue;
        };
        if !dir {
            continue;
        }
        for file in std::fs::read_dir(entry.path()).unwrap() {
            let file = file.unwrap().file_name().to_string_lossy().into_owned();
            // `relu.rs` may be named `relu`; other files by their whole name.
            let named = match file.strip_suffix(".rs") {
                Some(stem) => row
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .any(|word| word == stem),
                None => row.contains(&file),
            };
            if !named && file != "mod.rs" {
                missing.push(format!("src/{name}/{file}"));
            }
        }
    }
    assert!(missing.is_empty(), "not in the Layout table: {missing:?}");
}
