//! A small expression language parsed straight into a [`Graph`].
//!
//! ```text
//! expr    := term (('+' | '-') term)*
//! term    := unary (('*' | '/') unary)*
//! unary   := '-' unary | power
//! power   := primary ('^' unary)?          exponent: constant; right-associative
//! primary := number | name | function '(' expr ')' | '(' expr ')'
//! function:= exp | log | sigmoid | relu | tanh
//! ```
//!
//! As in mathematics, `^` binds tighter than unary minus (`-x^2` is `-(x^2)`) and groups to
//! the right (`2^3^2` is `2^9`); its exponent must be a constant (`x^-1`, `x^(1/2)`) because
//! the graph differentiates with respect to the inputs only through `Pow(n)` nodes.
//!
//! The parser is hand-written recursive descent. It emits nodes as it goes, so the graph is
//! a flat `Vec` and a long chain like `x+x+…+x` needs no recursion anywhere; only nesting
//! (parentheses, unary minus, `^`, calls) recurses, and that is capped at [`MAX_DEPTH`].

use std::fmt;

use super::node::{Graph, NodeId, Op};
use crate::error::{Error, Fix, Result};

/// The functions the language knows.
pub const FUNCTIONS: [&str; 5] = ["exp", "log", "sigmoid", "relu", "tanh"];

/// How deeply parentheses, unary minus, `^` and calls may nest.
pub const MAX_DEPTH: usize = 200;

/// A syntax error, with the expression and the column it points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The expression as given.
    pub source: String,
    /// 1-based column (in characters) of the problem.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    /// `message at column N`, then the expression and a caret line under it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Control characters would misalign the caret; show them as spaces (one char each).
        let shown: String = self
            .source
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let pad = " ".repeat(self.column.saturating_sub(1));
        write!(
            f,
            "{} at column {}\n  {shown}\n  {pad}^",
            self.message, self.column
        )
    }
}

impl std::error::Error for ParseError {}

impl From<ParseError> for Error {
    fn from(e: ParseError) -> Self {
        Error::Invalid(e.to_string())
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(f64),
    Name(String),
    Sym(char),
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Num(_) => "a number".into(),
            Tok::Name(n) => format!("`{n}`"),
            Tok::Sym(c) => format!("`{c}`"),
            Tok::End => "the end of the expression".into(),
        }
    }
}

/// Splits `src` into tokens, each with its byte offset.
fn lex(src: &str) -> std::result::Result<Vec<(Tok, usize)>, (usize, String)> {
    let b = src.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i < b.len() && b[i] == b'.' {
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            }
            // An exponent only if digits follow: `2e` is 2 then the name `e`.
            if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
                let mut j = i + 1;
                if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    i = j;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let text = &src[start..i];
            let value = text
                .parse::<f64>()
                .map_err(|_| (start, format!("`{text}` is not a number")))?;
            if !value.is_finite() {
                return Err((
                    start,
                    format!("`{text}` is too large for a float (at most about 1.8e308)"),
                ));
            }
            toks.push((Tok::Num(value), start));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            toks.push((Tok::Name(src[start..i].to_string()), start));
        } else if b"+-*/^()".contains(&c) {
            toks.push((Tok::Sym(c as char), start));
            i += 1;
        } else {
            let ch = src[start..].chars().next().unwrap_or('?');
            return Err((
                start,
                format!(
                    "unexpected character {ch:?} (use numbers, names, + - * / ^ and parentheses)"
                ),
            ));
        }
    }
    toks.push((Tok::End, b.len()));
    Ok(toks)
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<(Tok, usize)>,
    pos: usize,
    depth: usize,
    graph: Graph,
}

type PResult<T> = std::result::Result<T, ParseError>;

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }

    fn offset(&self) -> usize {
        self.toks[self.pos].1
    }

    fn error_at(&self, offset: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            source: self.src.to_string(),
            column: self.src[..offset].chars().count() + 1,
            message: message.into(),
        }
    }

    fn eat(&mut self, c: char) -> bool {
        if *self.peek() == Tok::Sym(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> PResult<NodeId> {
        let mut x = self.term()?;
        loop {
            let op = if self.eat('+') {
                Op::Add
            } else if self.eat('-') {
                Op::Sub
            } else {
                return Ok(x);
            };
            let y = self.term()?;
            x = self.graph.push(op, &[x, y]);
        }
    }

    fn term(&mut self) -> PResult<NodeId> {
        let mut x = self.unary()?;
        loop {
            let op = if self.eat('*') {
                Op::Mul
            } else if self.eat('/') {
                Op::Div
            } else {
                return Ok(x);
            };
            let y = self.unary()?;
            x = self.graph.push(op, &[x, y]);
        }
    }

    /// Every nested construct passes through here, so the depth is counted here.
    fn unary(&mut self) -> PResult<NodeId> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error_at(
                self.offset(),
                format!("expression nested too deeply (more than {MAX_DEPTH} levels)"),
            ));
        }
        self.depth += 1;
        let result = if self.eat('-') {
            self.unary().map(|x| self.graph.push(Op::Neg, &[x]))
        } else {
            self.power()
        };
        self.depth -= 1;
        result
    }

    fn power(&mut self) -> PResult<NodeId> {
        let base = self.primary()?;
        if !self.eat('^') {
            return Ok(base);
        }
        let at = self.offset();
        let start = self.graph.nodes.len();
        let e = self.unary()?;
        // The exponent is constant if it was built entirely from nodes made just now and
        // none of them is an input (a name seen earlier would be an argument below `start`).
        let constant = e >= start
            && self.graph.nodes[start..]
                .iter()
                .all(|n| !matches!(n.op, Op::Input(_)) && n.args.iter().all(|&a| a >= start));
        if !constant {
            return Err(self.error_at(at, "the exponent of `^` must be a constant (no names)"));
        }
        let n = self
            .graph
            .forward_from(start)
            .map_err(|err| self.error_at(at, err.to_string()))?;
        // Fold the constant exponent into the Pow node: drop its subgraph (which holds no
        // inputs, so the name index stays right).
        self.graph.nodes.truncate(start);
        Ok(self.graph.push(Op::Pow(n), &[base]))
    }

    fn primary(&mut self) -> PResult<NodeId> {
        let at = self.offset();
        match self.peek().clone() {
            Tok::Num(v) => {
                self.pos += 1;
                Ok(self.graph.constant(v))
            }
            Tok::Name(name) => {
                self.pos += 1;
                if self.eat('(') {
                    let op = match name.as_str() {
                        "exp" => Op::Exp,
                        "log" => Op::Log,
                        "sigmoid" => Op::Sigmoid,
                        "relu" => Op::Relu,
                        "tanh" => Op::Tanh,
                        _ => {
                            return Err(self.error_at(
                                at,
                                format!(
                                    "unknown function `{name}` (functions: {})",
                                    FUNCTIONS.join(", ")
                                ),
                            ));
                        }
                    };
                    let x = self.expr()?;
                    self.close(at + name.len())?;
                    Ok(self.graph.push(op, &[x]))
                } else if FUNCTIONS.contains(&name.as_str()) {
                    Err(self.error_at(at, format!("`{name}` is a function: write {name}(…)")))
                } else {
                    Ok(self.graph.input(&name))
                }
            }
            Tok::Sym('(') => {
                self.pos += 1;
                let x = self.expr()?;
                self.close(at)?;
                Ok(x)
            }
            t => Err(self.error_at(
                at,
                format!("expected a number, a name or `(`, found {}", t.describe()),
            )),
        }
    }

    /// Expects the `)` matching the `(` at byte offset `open`.
    fn close(&mut self, open: usize) -> PResult<()> {
        if self.eat(')') {
            return Ok(());
        }
        let col = self.src[..open].chars().count() + 1;
        Err(self.error_at(
            self.offset(),
            format!(
                "expected `)` to close the `(` at column {col}, found {}",
                self.peek().describe()
            ),
        ))
    }
}

/// Parses `src` into a graph whose inputs are not set yet (they are 0).
///
/// ```
/// use backprop::graph::expr::parse;
/// let g = parse("x * y + x").unwrap();
/// assert_eq!(g.input_names(), ["x", "y"]);
/// let e = parse("x * (y + 1").unwrap_err();
/// assert_eq!(e.column, 11);
/// assert!(e.to_string().ends_with("x * (y + 1\n            ^"));
/// ```
pub fn parse(src: &str) -> std::result::Result<Graph, ParseError> {
    let err = |offset: usize, message: String| ParseError {
        source: src.to_string(),
        column: src[..offset].chars().count() + 1,
        message,
    };
    let toks = lex(src).map_err(|(at, msg)| err(at, msg))?;
    if toks.len() == 1 {
        return Err(err(0, "empty expression".into()));
    }
    let mut p = Parser {
        src,
        toks,
        pos: 0,
        depth: 0,
        graph: Graph::new("f"),
    };
    p.expr()?;
    if *p.peek() != Tok::End {
        let what = match p.peek() {
            Tok::Sym(')') => "`)` without a matching `(`".to_string(),
            t => format!("{} where an operator was expected", t.describe()),
        };
        return Err(p.error_at(p.offset(), format!("unexpected {what}")));
    }
    let mut graph = p.graph;
    graph.source = src.trim().to_string();
    Ok(graph)
}

/// Parses `src`, sets its inputs from `values` (a later pair overrides an earlier one),
/// and runs forward and backward. The output is called `output_name`.
///
/// Every name in the expression needs a value and every value needs a name in the
/// expression (a `--set` for a name that is not there is almost always a typo).
///
/// ```
/// use backprop::graph::expr::evaluate;
/// let g = evaluate("x*x + x", "f", &[("x", 3.0)]).unwrap();
/// assert_eq!(g.gradients(), [("x", 3.0, 7.0)]);
/// ```
pub fn evaluate(src: &str, output_name: &str, values: &[(&str, f64)]) -> Result<Graph> {
    let mut g = parse(src)?;
    g.output_name = output_name.to_string();
    for &(name, v) in values {
        if !v.is_finite() {
            return Err(Error::Invalid(format!(
                "{name} = {v}: the value must be a finite number"
            )));
        }
        g.set(name, v)?;
    }
    let missing: Vec<&str> = g
        .input_names()
        .into_iter()
        .filter(|n| !values.iter().any(|(m, _)| m == n))
        .collect();
    if !missing.is_empty() {
        return Err(Error::needs(
            format!(
                "{} {} no value",
                super::node::list(&missing),
                if missing.len() == 1 { "has" } else { "have" },
            ),
            Fix::Values(missing.iter().map(|n| n.to_string()).collect()),
        ));
    }
    g.forward()
        .and_then(|_| g.backward())
        .map_err(|e| Error::Invalid(format!("{e}\n  in {}", g.source)))?;
    Ok(g)
}

/// Runs arbitrary bytes through everything a user's expression reaches: parsing, binding
/// every name (to values cycling through 1.5, −0.5, 2, 0.25, 3), forward, backward and the
/// three renderings. Used by the `expr` fuzz target and by the test that replays its corpus;
/// errors are expected, panics are bugs.
pub fn check_input(bytes: &[u8]) {
    let Ok(src) = std::str::from_utf8(bytes) else {
        return;
    };
    let Ok(g) = parse(src) else { return };
    const VALUES: [f64; 5] = [1.5, -0.5, 2.0, 0.25, 3.0];
    let values: Vec<(&str, f64)> = g
        .input_names()
        .into_iter()
        .zip(VALUES.iter().cycle())
        .map(|(n, &v)| (n, v))
        .collect();
    if let Ok(g) = evaluate(src, "f", &values) {
        assert!(super::render::to_svg(&g).ends_with("</svg>\n"));
        assert!(super::render::to_dot(&g).ends_with("}\n"));
        assert!(!super::render::to_text(&g).is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(src: &str, values: &[(&str, f64)]) -> f64 {
        evaluate(src, "f", values)
            .unwrap()
            .nodes
            .last()
            .unwrap()
            .value
    }

    #[test]
    fn precedence_and_associativity() {
        let x = [("x", 3.0)];
        assert_eq!(value("-x^2", &x), -9.0);
        assert_eq!(value("(-x)^2", &x), 9.0);
        assert_eq!(value("2^3^2", &[]), 512.0);
        assert_eq!(value("1 + 2 * 3", &[]), 7.0);
        assert_eq!(value("10 - 4 - 3", &[]), 3.0);
        assert_eq!(value("12 / 3 / 2", &[]), 2.0);
        assert_eq!(value("x^-1", &x), 1.0 / 3.0);
        assert_eq!(value("x^(1/2)*x^.5", &x), 3f64.powf(0.5) * 3f64.powf(0.5));
        assert_eq!(value("--x", &x), 3.0);
        assert_eq!(value("2 * -x", &x), -6.0);
        assert_eq!(value("1.5e1 + 2E-1", &[]), 15.2);
    }

    #[test]
    fn pow_exponent_is_folded_into_the_node() {
        let g = parse("x^(2*3)").unwrap();
        assert_eq!(g.nodes.len(), 2);
        assert_eq!(g.nodes[1].op, Op::Pow(6.0));
    }

    fn err(src: &str) -> ParseError {
        parse(src).unwrap_err()
    }

    #[test]
    fn errors_point_at_the_column() {
        let e = err("x + * y");
        assert_eq!(e.column, 5);
        assert!(e.message.contains("found `*`"), "{e}");
        assert_eq!(e.to_string().lines().nth(2), Some("      ^"));
        assert_eq!(err("2x").column, 2);
        assert_eq!(err("x + $").column, 5);
        assert_eq!(err("").message, "empty expression");
        assert_eq!(err("x)").message, "unexpected `)` without a matching `(`");
        let e = err("foo(x)");
        assert_eq!(e.column, 1);
        assert!(e.message.contains("unknown function `foo`"), "{e}");
        assert!(err("exp + 1").message.contains("is a function"));
        let e = err("x^y");
        assert_eq!(e.column, 3);
        assert!(e.message.contains("constant"), "{e}");
        assert!(err("y * x^(x+1)").message.contains("constant"));
        assert!(err("x^log(0)").message.contains("log(0.0)"));
        // Columns count characters, not bytes.
        assert_eq!(err("é").column, 1);
        assert_eq!(err("x + (é)").column, 6);
    }

    #[test]
    fn nesting_is_limited_not_a_stack_overflow() {
        let deep = format!("{}x{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(err(&deep).message.contains("nested too deeply"));
        assert!(
            err(&"-".repeat(100_000))
                .message
                .contains("nested too deeply")
        );
        let ok = format!(
            "{}x{}",
            "(".repeat(MAX_DEPTH - 1),
            ")".repeat(MAX_DEPTH - 1)
        );
        assert_eq!(value(&ok, &[("x", 2.0)]), 2.0);
        // A long flat chain is not nesting: it parses and evaluates without recursion.
        let long = vec!["x"; 100_000].join("+");
        let g = evaluate(&long, "f", &[("x", 1.0)]).unwrap();
        assert_eq!(g.gradients(), [("x", 1.0, 100_000.0)]);
    }

    #[test]
    fn values_must_match_names() {
        // The library says what is missing and names no flag; `backprop graph` adds
        // "add --set y=VALUE" (tests/graph_cli.rs).
        let e = evaluate("x*y", "f", &[("x", 1.0)]).unwrap_err();
        assert_eq!(e.to_string(), "y has no value");
        assert!(matches!(e, Error::Needs { fix: Fix::Values(ref v), .. } if v == &["y"]));
        let e = evaluate("x", "f", &[("x", 1.0), ("z", 2.0)]).unwrap_err();
        assert!(matches!(e, Error::Needs { fix: Fix::NoSuchName(ref n), .. } if n == "z"));
        let e = e.to_string();
        assert!(e.contains("no `z`") && !e.contains("--"), "{e}");
        let e = evaluate("log(x)", "f", &[("x", -1.0)])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("log(-1.0): the logarithm needs a positive number"),
            "{e}"
        );
        let e = evaluate("x", "f", &[("x", f64::NAN)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("finite"), "{e}");
        // A later value overrides an earlier one.
        assert_eq!(value("x", &[("x", 1.0), ("x", 2.0)]), 2.0);
    }

    /// `∂f/∂name` by central differences, `(f(v + h) − f(v − h)) / 2h`.
    fn numerical(src: &str, values: &[(&str, f64)], name: &str) -> f64 {
        let h = 1e-5;
        let at = |delta: f64| {
            let shifted: Vec<(&str, f64)> = values
                .iter()
                .map(|&(n, v)| (n, if n == name { v + delta } else { v }))
                .collect();
            value(src, &shifted)
        };
        (at(h) - at(-h)) / (2.0 * h)
    }

    #[test]
    fn backward_matches_central_differences() {
        // Points chosen away from relu's kink and inside log's domain.
        let v = [("x", 0.7), ("y", -1.3), ("z", 2.1)];
        let cases = [
            "x*y*z",
            "x + y - z",
            "x / y + z / x",
            "-x^2 + y^3 - z^-1",
            "(x + y)^2 * z",
            "x^(1/2) * z^1.5",
            "exp(x) * exp(-y) + log(z)",
            "log(x*x + y*y) / z",
            "sigmoid(x*y + z)",
            "tanh(x - y) * tanh(z)",
            "relu(x) + relu(y) * z + relu(x*z - y)",
            "x*x + x*y + y*y + z*x",
            "sigmoid(tanh(exp(x) - log(z)) * y)",
            "1/(1 + exp(-(x*2 - y/3 + z)))",
            "(x - y)^2 / (z + 1) - 3*x + 0.5",
            "x*x*x*x - 2*x*x + y*z*z",
            "exp(-x^2) * log(1 + z^2) / (y - 4)",
            "-(-(-x)) * y^4 + relu(-y) * z",
        ];
        for src in cases {
            let names = parse(src).unwrap();
            let v: Vec<(&str, f64)> = v
                .iter()
                .copied()
                .filter(|(n, _)| names.find(n).is_some())
                .collect();
            let g = evaluate(src, "f", &v).unwrap();
            for (name, _, grad) in g.gradients() {
                let num = numerical(src, &v, name);
                let tol = 1e-6 * (1.0 + num.abs());
                assert!(
                    (grad - num).abs() < tol,
                    "{src}: ∂f/∂{name} backprop {grad} vs numerical {num}"
                );
            }
        }
    }

    #[test]
    fn hand_computed_derivatives() {
        let grads = |src: &str, v: &[(&str, f64)]| -> Vec<f64> {
            let g = evaluate(src, "f", v).unwrap();
            g.gradients().iter().map(|t| t.2).collect()
        };
        // d/dx (x·x + x) = 2x + 1 = 7 at 3.
        assert_eq!(grads("x*x + x", &[("x", 3.0)]), [7.0]);
        // d/dx −x² = −2x = −6 at 3 (power first, then the minus).
        assert_eq!(grads("-x^2", &[("x", 3.0)]), [-6.0]);
        // f = x/y: ∂f/∂x = 1/y = 0.25, ∂f/∂y = −x/y² = −0.125 at (2, 4).
        assert_eq!(grads("x/y", &[("x", 2.0), ("y", 4.0)]), [0.25, -0.125]);
        // sigmoid'(0) = 1/4, tanh'(0) = 1, relu'(0) = 0 (the book's mask), log'(2) = 1/2.
        assert_eq!(grads("sigmoid(x)", &[("x", 0.0)]), [0.25]);
        assert_eq!(grads("tanh(x)", &[("x", 0.0)]), [1.0]);
        assert_eq!(grads("relu(x)", &[("x", 0.0)]), [0.0]);
        assert_eq!(grads("log(x)", &[("x", 2.0)]), [0.5]);
        assert_eq!(grads("exp(x)", &[("x", 0.0)]), [1.0]);
        // d/dx x⁰ = 0, also at 0.
        assert_eq!(grads("x^0", &[("x", 0.0)]), [0.0]);
    }

    #[test]
    fn overflows_are_errors_naming_the_node_not_infinities() {
        let e =
            |src: &str, values: &[(&str, f64)]| evaluate(src, "f", values).unwrap_err().to_string();
        assert!(e("2^1e400", &[]).contains("`1e400` is too large"));
        assert!(e("exp(1000)", &[]).contains("node #1 (exp(#0)) is inf"));
        assert!(e("x^99999", &[("x", 10.0)]).contains("node #1 (#0^99999) is inf"));
        // 0·∞ = NaN: the exponent's own nodes are numbered from the exponent.
        assert!(e("x^(0*exp(1000))", &[("x", 1.0)]).contains("is inf"));
        // The largest finite values still are values.
        assert_eq!(value("x^2", &[("x", 1e154)]), 1e308);
    }
}
