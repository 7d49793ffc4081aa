//! `backprop graph`, driven as a user would: the book's apple graphs as text, SVG and DOT,
//! expressions with `--set`, and the errors.

mod common;

use common::{backprop, scratch, stderr, stdout};

/// The forward and backward labels drawn on the SVG arrow from `from` to `to` (the edge
/// groups start with a tooltip `from → to: …`).
fn svg_edge_labels(svg: &str, from: &str, to: &str) -> Vec<(String, String)> {
    let text_of = |group: &str, class: &str| -> String {
        let at = group.find(&format!("class=\"{class}\"")).unwrap();
        let rest = &group[at..];
        let start = rest.find('>').unwrap() + 1;
        let end = rest.find("</text>").unwrap();
        rest[start..end].to_string()
    };
    svg.lines()
        .filter(|l| l.starts_with(&format!("<g><title>{from} → {to}: ")))
        .map(|g| (text_of(g, "fwd"), text_of(g, "bwd")))
        .collect()
}

#[test]
fn apple_orange_text_svg_and_dot_show_the_books_numbers() {
    let dir = scratch("apple-orange");
    let (svg_path, dot_path) = (dir.join("g.svg"), dir.join("g.dot"));
    let out = backprop(&[
        "graph",
        "apple-orange",
        "--svg",
        svg_path.to_str().unwrap(),
        "--dot",
        dot_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for line in [
        "price = 715.0000000000001",
        "∂price/∂apple = 2.2",
        "∂price/∂apple_num = 110.00000000000001",
        "∂price/∂orange = 3.3000000000000003",
        "∂price/∂orange_num = 165.0",
        "∂price/∂tax = 650.0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "{line:?} missing from\n{text}"
        );
    }

    // Fig. 5-17: forward above (black), backward below (red), float noise rounded away.
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.ends_with("</svg>\n"));
    let expect = [
        ("apple", "×", "100", "2.2"),
        ("apple_num", "×", "2", "110"),
        ("orange", "×", "150", "3.3"),
        ("orange_num", "×", "3", "165"),
        ("×", "+", "200", "1.1"),
        ("×", "+", "450", "1.1"),
        ("+", "×", "650", "1.1"),
        ("tax", "×", "1.1", "650"),
        ("×", "price", "715", "1"),
    ];
    for (from, to, fwd, bwd) in expect {
        let labels = svg_edge_labels(&svg, from, to);
        assert!(
            labels.contains(&(fwd.to_string(), bwd.to_string())),
            "{from} → {to}: want {fwd}/{bwd}, found {labels:?}"
        );
    }
    // The exact values stay available in the tooltips.
    assert!(svg.contains("forward 715.0000000000001, backward 1.0"));

    let dot = std::fs::read_to_string(&dot_path).unwrap();
    assert!(dot.starts_with("digraph \"price\" {") && dot.contains("rankdir=LR"));
    for (fwd, bwd) in [
        ("100", "2.2"),
        ("2", "110"),
        ("150", "3.3"),
        ("3", "165"),
        ("1.1", "650"),
        ("715", "1"),
    ] {
        let label = format!("label=<{fwd}<br/><font color=\"#d55e00\">{bwd}</font>>");
        assert!(dot.contains(&label), "{label} missing from\n{dot}");
    }
    // Written atomically: nothing but the two files is left in the directory.
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["g.dot", "g.svg"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn apple_graph_and_overrides() {
    let out = backprop(&["graph", "apple"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("∂price/∂tax = 200.0"));
    // Three apples: price 330 (up to float noise), ∂price/∂apple = 3 · 1.1.
    let out = backprop(&["graph", "apple", "--set", "apple_num=3", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(v["output"], "price");
    assert!((v["value"].as_f64().unwrap() - 330.0).abs() < 1e-9);
    assert_eq!(v["inputs"][0]["name"], "apple");
    assert_eq!(v["inputs"][0]["grad"].as_f64().unwrap(), 3.0 * 1.1);
}

#[test]
fn expression_derivatives_as_text_and_json() {
    let out = backprop(&["graph", "x*x + x", "--set", "x=3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).lines().any(|l| l == "∂f/∂x = 7.0"),
        "{}",
        stdout(&out)
    );

    // A leading minus is an expression, not an option.
    let out = backprop(&[
        "graph", "-x^2 * y", "--set", "x=3", "--set", "y=2", "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(v["value"].as_f64(), Some(-18.0));
    // ∂/∂x (−x²y) = −2xy = −12, ∂/∂y = −x² = −9.
    assert_eq!(v["inputs"][0]["grad"].as_f64(), Some(-12.0));
    assert_eq!(v["inputs"][1]["grad"].as_f64(), Some(-9.0));
}

#[test]
fn errors_exit_2_with_clear_messages() {
    let cases: [(&[&str], &str); 7] = [
        (
            &["graph", "x + * y", "--set", "x=1", "--set", "y=2"],
            "at column 5\n  x + * y\n      ^",
        ),
        (
            &["graph", "foo(x)", "--set", "x=1"],
            "unknown function `foo`",
        ),
        (
            &["graph", "x*y", "--set", "x=1"],
            "y has no value: add --set y=VALUE",
        ),
        (
            &["graph", "x", "--set", "x=1", "--set", "X=2"],
            "no `X` in the expression",
        ),
        (
            &["graph", "log(x)", "--set", "x=-2"],
            "log(-2.0): the logarithm needs a positive number",
        ),
        (&["graph", "x", "--set", "x"], "expected NAME=VALUE"),
        (&["graph", "x", "--set", "x=abc"], "is not a number"),
    ];
    for (args, want) in cases {
        let out = backprop(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(want), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{args:?}");
    }
}

#[test]
fn unwritable_svg_path_is_a_runtime_error() {
    let out = backprop(&["graph", "apple", "--svg", "/nonexistent-dir/g.svg"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("/nonexistent-dir/g.svg"),
        "{}",
        stderr(&out)
    );
}

/// The exact forward and backward values in the tooltips of the SVG arrows from `from` to `to`
/// (`<title>from → to: forward 100.0, backward 2.2</title>`).
fn svg_edge_values(svg: &str, from: &str, to: &str) -> Vec<(f64, f64)> {
    let head = format!("<g><title>{from} → {to}: forward ");
    svg.lines()
        .filter_map(|l| l.strip_prefix(&head))
        .map(|rest| {
            let title = &rest[..rest.find("</title>").unwrap()];
            let (fwd, bwd) = title.split_once(", backward ").unwrap();
            (fwd.parse().unwrap(), bwd.parse().unwrap())
        })
        .collect()
}

#[test]
fn the_readme_picture_shows_the_hand_computed_numbers() {
    // docs/graph-apple-orange.svg (fig. 5-17 in the README) against the book's shopping sum
    // (ch05/buy_apple_orange.py, §5.4.2) worked out here by hand, in the same f64 arithmetic.
    let svg = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/graph-apple-orange.svg"
    ))
    .unwrap();
    let (apple, apple_num, orange, orange_num, tax) = (100.0, 2.0, 150.0, 3.0, 1.1);
    let apple_price = apple * apple_num; // 200
    let orange_price = orange * orange_num; // 450
    let all_price = apple_price + orange_price; // 650
    let price = all_price * tax; // 715 (715.0000000000001)
    // Backward from ∂price/∂price = 1: a product sends each input the upstream derivative
    // times the other input, a sum sends it on unchanged.
    let d_all_price = 1.0 * tax; // 1.1
    let d_tax = 1.0 * all_price; // 650
    let (d_apple_price, d_orange_price) = (d_all_price, d_all_price);
    let d_apple = d_apple_price * apple_num; // 2.2
    let d_apple_num = d_apple_price * apple; // 110
    let d_orange = d_orange_price * orange_num; // 3.3
    let d_orange_num = d_orange_price * orange; // 165
    let want = [
        ("apple", "×", apple, d_apple),
        ("apple_num", "×", apple_num, d_apple_num),
        ("orange", "×", orange, d_orange),
        ("orange_num", "×", orange_num, d_orange_num),
        ("×", "+", apple_price, d_apple_price),
        ("×", "+", orange_price, d_orange_price),
        ("+", "×", all_price, d_all_price),
        ("tax", "×", tax, d_tax),
        ("×", "price", price, 1.0),
    ];
    let edges = svg
        .lines()
        .filter(|l| l.starts_with("<g><title>") && l.contains(" → "))
        .count();
    assert_eq!(edges, want.len(), "arrows in the picture");
    for (from, to, fwd, bwd) in want {
        let exact = svg_edge_values(&svg, from, to);
        assert!(
            exact.contains(&(fwd, bwd)),
            "{from} → {to}: want forward {fwd}, backward {bwd} in {exact:?}"
        );
        // The labels drawn on the arrows: the same numbers, with float noise rounded away.
        let close = |label: &str, v: f64| {
            (label.parse::<f64>().unwrap() - v).abs() <= 1e-9 * v.abs().max(1.0)
        };
        let labels = svg_edge_labels(&svg, from, to);
        assert!(
            labels.iter().any(|(f, b)| close(f, fwd) && close(b, bwd)),
            "{from} → {to}: want labels {fwd} and {bwd} in {labels:?}"
        );
    }
}

#[test]
fn the_readme_picture_is_a_snapshot_of_what_the_command_draws() {
    // A snapshot test: it only says the committed picture is up to date (the numbers in it are
    // checked above). Regenerate it with
    // `backprop graph apple-orange --svg docs/graph-apple-orange.svg` when the drawing changes.
    let dir = scratch("readme");
    let path = dir.join("g.svg");
    let out = backprop(&["graph", "apple-orange", "--svg", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let committed = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/graph-apple-orange.svg");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        std::fs::read_to_string(committed).unwrap()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn non_finite_values_are_domain_errors_naming_the_node() {
    // (arguments, what the error says): the node as the text output numbers and draws it,
    // and its value. A node is inf or nan forward, or its derivative is backward.
    let cases: [(&[&str], &str); 7] = [
        (&["graph", "0^-1"], "node #1 (#0^-1) is inf"),
        (
            &["graph", "(x-1)^-1", "--set", "x=1"],
            "node #3 (#2^-1) is inf",
        ),
        (
            &["graph", "exp(x)", "--set", "x=1000"],
            "node #1 (exp(#0)) is inf",
        ),
        (
            &["graph", "x*y", "--set", "x=1e300", "--set", "y=1e300"],
            "node #2 (#0 × #1) is inf",
        ),
        // Forward finite (√0 = 0), backward not: d√x/dx = ∞ at 0.
        (
            &["graph", "x^0.5", "--set", "x=0"],
            "the derivative of f by node #0 (x) is inf",
        ),
        // A literal too large for a float is refused like --set x=1e400.
        (&["graph", "1e400-1e400"], "`1e400` is too large"),
        (
            &["graph", "x^1e400", "--set", "x=2"],
            "`1e400` is too large",
        ),
    ];
    for (args, want) in cases {
        let out = backprop(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(want),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}");
        assert!(stdout(&out).is_empty(), "{args:?}: {}", stdout(&out));
    }
    // Just inside the floats: finite, printed.
    let out = backprop(&["graph", "x*y", "--set", "x=1e300", "--set", "y=1e8"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("f = 1e+308"), "{}", stdout(&out));
}
