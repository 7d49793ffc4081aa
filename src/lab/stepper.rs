//! The graph stepper's data: a [`Graph`] evaluated by the library, as the page steps it.
//!
//! The graph is built and evaluated exactly as `backprop graph` does it
//! ([`BookGraph::evaluate`] for `apple` and `apple-orange`, [`expr::evaluate`] for an
//! expression); this module only describes the result for the page: where each node goes
//! ([`Layout`]), the number on every arrow going forward and coming back, and for each step
//! the local rule the node applies, in words and with its numbers.
//!
//! The steps are the book's order: every operation forward in creation order (a topological
//! order), then every operation backward in the reverse order, starting from `∂out/∂out = 1`.

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::graph::render::Layout;
use crate::graph::shopping::BookGraph;
use crate::graph::{Graph, NodeId, Op, expr, short};

/// Longest expression the stepper accepts, in bytes: a page, not a file.
pub const MAX_SOURCE: usize = 2000;

/// Evaluates `what` (`apple`, `apple-orange` or an expression) with `values`, and describes
/// it for the page. Names of an expression without a value are set to 1 and listed under
/// `"defaulted"`.
///
/// ```
/// use backprop::lab::stepper::describe;
/// let d = describe("x*y + exp(z)", &[("x", 2.0), ("y", 3.0), ("z", 0.0)]).unwrap();
/// // ∂f/∂x = y, ∂f/∂y = x, ∂f/∂z = exp(z)
/// let grads: Vec<f64> = d["inputs"].as_array().unwrap().iter()
///     .map(|i| i["grad"].as_f64().unwrap()).collect();
/// assert_eq!(grads, [3.0, 2.0, 1.0]);
/// ```
pub fn describe(what: &str, values: &[(&str, f64)]) -> Result<Value> {
    if what.len() > MAX_SOURCE {
        return Err(Error::Invalid(format!(
            "the expression is {} bytes long; the stepper takes up to {MAX_SOURCE}",
            what.len()
        )));
    }
    let mut defaulted = Vec::new();
    let g = match BookGraph::by_name(what.trim()) {
        Some(book) => book.evaluate(values)?,
        None => {
            let parsed = expr::parse(what).map_err(|e| Error::Invalid(e.to_string()))?;
            let mut all: Vec<(&str, f64)> = Vec::new();
            for name in parsed.input_names() {
                match values.iter().rev().find(|(n, _)| *n == name) {
                    Some(&(_, v)) => all.push((name, v)),
                    None => {
                        defaulted.push(name.to_string());
                        all.push((name, 1.0));
                    }
                }
            }
            // Names given but not in the expression are dropped: the page keeps the fields
            // of the previous expression while the user types.
            let all: Vec<(String, f64)> = all.into_iter().map(|(n, v)| (n.into(), v)).collect();
            let refs: Vec<(&str, f64)> = all.iter().map(|(n, v)| (n.as_str(), *v)).collect();
            expr::evaluate(what, "f", &refs)?
        }
    };
    Ok(to_json(&g, defaulted))
}

/// The page's description of an evaluated graph.
pub fn to_json(g: &Graph, defaulted: Vec<String>) -> Value {
    let lay = Layout::new(g);
    let nodes: Vec<Value> = g
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let kind = match n.op {
                Op::Input(_) => "input",
                Op::Const(_) => "const",
                _ => "op",
            };
            json!({
                "id": i,
                "kind": kind,
                "symbol": n.op.symbol(),
                "label": g.label(i),
                "args": n.args,
                "value": n.value,
                "grad": n.grad,
                "value_text": short(n.value),
                "grad_text": short(n.grad),
                "col": lay.col[i],
                "row": lay.row[i],
                "forward_rule": if kind == "op" { forward_rule(g, i) } else { String::new() },
                "backward_rule": if kind == "op" { backward_rule(g, i) } else { String::new() },
            })
        })
        .collect();
    let mut edges = Vec::new();
    for (i, n) in g.nodes.iter().enumerate() {
        for (k, &a) in n.args.iter().enumerate() {
            let back = g.edge_grad(i, k);
            edges.push(json!({
                "from": a, "to": i, "slot": k,
                "forward": g.nodes[a].value, "forward_text": short(g.nodes[a].value),
                "backward": back, "backward_text": short(back),
            }));
        }
    }
    let ops: Vec<NodeId> = (0..g.nodes.len())
        .filter(|&i| g.nodes[i].op.arity() > 0)
        .collect();
    let mut steps: Vec<Value> = ops
        .iter()
        .map(|&i| json!({"phase": "forward", "node": i}))
        .collect();
    steps.extend(
        ops.iter()
            .rev()
            .map(|&i| json!({"phase": "backward", "node": i})),
    );
    let inputs: Vec<Value> = g
        .gradients()
        .into_iter()
        .map(|(name, value, grad)| {
            json!({"name": name, "value": value, "grad": grad, "grad_text": short(grad)})
        })
        .collect();
    let out = g.output().map_or(0.0, |o| g.nodes[o].value);
    json!({
        "source": g.source,
        "output_name": g.output_name,
        "value": out,
        "value_text": short(out),
        "nodes": nodes,
        "edges": edges,
        "inputs": inputs,
        "steps": steps,
        "defaulted": defaulted,
    })
}

/// The node's name as an argument: an input's name, a constant's value, `#k` otherwise.
fn arg_name(g: &Graph, a: NodeId) -> String {
    match &g.nodes[a].op {
        Op::Input(name) => name.clone(),
        Op::Const(c) => short(*c),
        _ => format!("#{a}"),
    }
}

/// What node `i` computes going forward, with its numbers: `× multiplies: 100 × 2 = 200`.
fn forward_rule(g: &Graph, i: NodeId) -> String {
    let n = &g.nodes[i];
    let x = |k: usize| short(g.nodes[n.args[k]].value);
    let y = short(n.value);
    match &n.op {
        Op::Add => format!("+ adds its inputs: {} + {} = {y}", x(0), x(1)),
        Op::Sub => format!("− subtracts: {} − {} = {y}", x(0), x(1)),
        Op::Mul => format!("× multiplies its inputs: {} × {} = {y}", x(0), x(1)),
        Op::Div => format!("÷ divides: {} ÷ {} = {y}", x(0), x(1)),
        Op::Neg => format!("− flips the sign: −({}) = {y}", x(0)),
        Op::Pow(p) => format!(
            "^{} raises to a power: ({})^{} = {y}",
            short(*p),
            x(0),
            short(*p)
        ),
        Op::Exp => format!("exp: e^{} = {y}", x(0)),
        Op::Log => format!("log: ln {} = {y}", x(0)),
        Op::Sigmoid => format!("sigmoid: 1 / (1 + e^−({})) = {y}", x(0)),
        Op::Relu => format!("ReLU: max(0, {}) = {y}", x(0)),
        Op::Tanh => format!("tanh: tanh {} = {y}", x(0)),
        Op::Input(_) | Op::Const(_) => String::new(),
    }
}

/// What node `i` sends back to each argument, in words and with its numbers: the upstream
/// derivative times the local one (`Graph::edge_grad`).
fn backward_rule(g: &Graph, i: NodeId) -> String {
    let n = &g.nodes[i];
    let up = short(n.grad);
    let sends: Vec<String> = n
        .args
        .iter()
        .enumerate()
        .map(|(k, &a)| {
            format!(
                "{up} × {} = {} to {}",
                short(n.local[k]),
                short(g.edge_grad(i, k)),
                arg_name(g, a)
            )
        })
        .collect();
    let rule = match &n.op {
        Op::Add => "+ passes the upstream derivative through to both inputs (local derivative 1)"
            .to_string(),
        Op::Sub => "− passes it to the first input and its negative to the second".to_string(),
        Op::Mul => "× sends each input the other input times the upstream derivative".to_string(),
        Op::Div => {
            "÷ sends 1/y times the upstream derivative to x, and −x/y² times it to y".to_string()
        }
        Op::Neg => "− sends back the upstream derivative with its sign flipped".to_string(),
        Op::Pow(p) => format!(
            "^{} multiplies by n·x^(n−1) = {}·x^{}",
            short(*p),
            short(*p),
            short(p - 1.0)
        ),
        Op::Exp => "exp multiplies by its own output, e^x".to_string(),
        Op::Log => "log multiplies by 1/x".to_string(),
        Op::Sigmoid => "sigmoid multiplies by y(1 − y), y its output".to_string(),
        Op::Relu => "ReLU passes it on where x > 0 and sends 0 where x ≤ 0".to_string(),
        Op::Tanh => "tanh multiplies by 1 − y², y its output".to_string(),
        Op::Input(_) | Op::Const(_) => String::new(),
    };
    format!("{rule}: {}", sends.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apple_orange_numbers_and_rules() {
        let d = describe("apple-orange", &[]).unwrap();
        assert_eq!(d["value_text"], "715");
        let grads: Vec<&str> = d["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["grad_text"].as_str().unwrap())
            .collect();
        assert_eq!(grads, ["2.2", "110", "3.3", "165", "650"]);
        // Two ×, the +, the × with tax: four operations, stepped forward then backward.
        let steps = d["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 8);
        assert_eq!(steps[0]["phase"], "forward");
        assert_eq!(steps[4]["phase"], "backward");
        assert_eq!(steps[4]["node"], steps[3]["node"]);
        let last = &d["nodes"][steps[3]["node"].as_u64().unwrap() as usize];
        assert_eq!(
            last["forward_rule"],
            "× multiplies its inputs: 650 × 1.1 = 715"
        );
        assert_eq!(
            last["backward_rule"],
            "× sends each input the other input times the upstream derivative: \
             1 × 1.1 = 1.1 to #6; 1 × 650 = 650 to tax"
        );
    }

    #[test]
    fn expression_names_default_to_one_and_errors_are_errors() {
        let d = describe("x*y + exp(z)", &[("x", 2.0)]).unwrap();
        assert_eq!(d["defaulted"], json!(["y", "z"]));
        // f = 2·1 + e: ∂f/∂z = e¹.
        assert_eq!(d["inputs"][2]["grad"], json!(1f64.exp()));
        assert!(describe("x*", &[]).is_err());
        assert!(describe("log(x)", &[("x", -1.0)]).is_err());
        assert!(describe(&"x+".repeat(1500), &[]).is_err());
    }
}
