//! `backprop graph`: a computation graph with its forward and backward values, as text and
//! as pictures (SVG, Graphviz DOT).

use std::path::PathBuf;

use clap::Args;

use crate::error::Result;
use crate::graph::expr;
use crate::graph::render::{to_dot, to_svg, to_text};
use crate::graph::shopping::BookGraph;
use crate::io::write_atomic;

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// `apple` (fig. 5-15), `apple-orange` (fig. 5-17), or an expression such as
    /// "x*y + sigmoid(x)^2" over numbers, names, + - * / ^, parentheses, exp, log, sigmoid,
    /// relu and tanh.
    #[arg(allow_hyphen_values = true)]
    what: String,
    /// Value of a name in the expression (repeat for each name); for `apple` and
    /// `apple-orange` it overrides the book's value.
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = name_value)]
    set: Vec<(String, f64)>,
    /// Write the picture as SVG to this file.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Write the picture as Graphviz DOT to this file (`dot -Tpng FILE -o graph.png`).
    #[arg(long, value_name = "FILE")]
    dot: Option<PathBuf>,
    /// Print one JSON object (value and every input's value and derivative) instead of text.
    #[arg(long)]
    json: bool,
}

fn name_value(s: &str) -> std::result::Result<(String, f64), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected NAME=VALUE, for example x=3"))?;
    let v: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("{s:?}: {value:?} is not a number"))?;
    if !v.is_finite() {
        return Err(format!("{s:?}: the value must be a finite number"));
    }
    Ok((name.trim().to_string(), v))
}

pub fn run(args: GraphArgs) -> Result<()> {
    crate::io::Paths::new()
        .output("--svg", args.svg.as_deref())
        .output("--dot", args.dot.as_deref())
        .check()?;
    let set: Vec<(&str, f64)> = args.set.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let g = match BookGraph::by_name(&args.what) {
        Some(book) => book.evaluate(&set)?,
        None => expr::evaluate(&args.what, "f", &set)?,
    };
    if let Some(path) = &args.svg {
        write_atomic(path, to_svg(&g).as_bytes())?;
    }
    if let Some(path) = &args.dot {
        write_atomic(path, to_dot(&g).as_bytes())?;
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&g.record()).expect("a record serialises")
        );
    } else {
        print!("{}", to_text(&g));
    }
    Ok(())
}
