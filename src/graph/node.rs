//! A scalar computation graph in the style of micrograd: every node is one operation whose
//! forward rule and local derivatives are written side by side in [`Op::apply`].
//!
//! Nodes live in one `Vec` and only point back at nodes created before them, so the index
//! order *is* a topological order: [`Graph::forward`] walks it left to right and
//! [`Graph::backward`] right to left. Nothing recurses, so a graph of any size is safe to
//! evaluate and to drop.
//!
//! The book's teaching classes [`MulLayer`](super::MulLayer) and [`AddLayer`](super::AddLayer)
//! stay as they are; this graph is what `backprop graph` draws.

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;

use crate::error::{Error, Fix, Result};
use crate::pyfmt::py_repr;

/// Index of a node in its [`Graph`].
pub type NodeId = usize;

/// What a node computes from its arguments.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// A named input whose value is set from outside (`--set name=value`).
    Input(String),
    /// A number written in the expression.
    Const(f64),
    /// `x + y`.
    Add,
    /// `x − y`.
    Sub,
    /// `x · y`.
    Mul,
    /// `x / y`.
    Div,
    /// `−x`.
    Neg,
    /// `xⁿ` for a constant `n`.
    Pow(f64),
    /// `eˣ`.
    Exp,
    /// `ln x`.
    Log,
    /// `1 / (1 + e⁻ˣ)`.
    Sigmoid,
    /// `max(0, x)`.
    Relu,
    /// `tanh x`.
    Tanh,
}

impl Op {
    /// How many arguments the operation takes.
    pub fn arity(&self) -> usize {
        match self {
            Op::Input(_) | Op::Const(_) => 0,
            Op::Add | Op::Sub | Op::Mul | Op::Div => 2,
            _ => 1,
        }
    }

    /// The short symbol drawn inside the node (`×`, `+`, `exp`, `^2`, …) or, for a leaf, its
    /// name or number.
    pub fn symbol(&self) -> String {
        match self {
            Op::Input(name) => name.clone(),
            Op::Const(c) => short(*c),
            Op::Add => "+".into(),
            Op::Sub | Op::Neg => "−".into(),
            Op::Mul => "×".into(),
            Op::Div => "÷".into(),
            Op::Pow(n) => format!("^{}", short(*n)),
            Op::Exp => "exp".into(),
            Op::Log => "log".into(),
            Op::Sigmoid => "sigmoid".into(),
            Op::Relu => "relu".into(),
            Op::Tanh => "tanh".into(),
        }
    }

    /// The forward rule and, side by side, the local derivative `∂out/∂xᵢ` for each
    /// argument `xᵢ`. Leaves (`Input`, `Const`) have no arguments and are not applied.
    ///
    /// | op | out | ∂out/∂x | ∂out/∂y |
    /// | --- | --- | --- | --- |
    /// | `Add` | x + y | 1 | 1 |
    /// | `Sub` | x − y | 1 | −1 |
    /// | `Mul` | x·y | y | x |
    /// | `Div` | x/y | 1/y | −x/y² |
    /// | `Neg` | −x | −1 | |
    /// | `Pow(n)` | xⁿ | n·xⁿ⁻¹ | |
    /// | `Exp` | eˣ | out | |
    /// | `Log` | ln x | 1/x | |
    /// | `Sigmoid` | 1/(1+e⁻ˣ) | out·(1 − out) | |
    /// | `Relu` | max(0, x) | 1 if x > 0 else 0 (the book's mask) | |
    /// | `Tanh` | tanh x | 1 − out² | |
    ///
    /// Errors on the three domain problems a user can type: a logarithm of a number ≤ 0, a
    /// division by zero, and a negative number raised to a non-integer power. A value that
    /// overflows to ±∞ (or is NaN) is refused by [`Graph::forward`], naming its node.
    pub fn apply(&self, x: &[f64]) -> Result<(f64, Vec<f64>)> {
        let domain = |msg: String| Err(Error::Invalid(msg));
        Ok(match *self {
            Op::Input(_) | Op::Const(_) => unreachable!("leaves are not applied"),
            Op::Add => (x[0] + x[1], vec![1.0, 1.0]),
            Op::Sub => (x[0] - x[1], vec![1.0, -1.0]),
            Op::Mul => (x[0] * x[1], vec![x[1], x[0]]),
            Op::Div => {
                if x[1] == 0.0 {
                    return domain(format!("{} / 0: division by zero", py_repr(x[0])));
                }
                (x[0] / x[1], vec![1.0 / x[1], -x[0] / (x[1] * x[1])])
            }
            Op::Neg => (-x[0], vec![-1.0]),
            Op::Pow(n) => {
                if x[0] < 0.0 && n.fract() != 0.0 && n.is_finite() {
                    return domain(format!(
                        "({})^{}: a negative number to a non-integer power is not real",
                        py_repr(x[0]),
                        py_repr(n)
                    ));
                }
                // d/dx x⁰ = 0 everywhere, also at x = 0 where n·xⁿ⁻¹ would be 0·∞.
                let d = if n == 0.0 {
                    0.0
                } else {
                    n * x[0].powf(n - 1.0)
                };
                (x[0].powf(n), vec![d])
            }
            Op::Exp => {
                let out = x[0].exp();
                (out, vec![out])
            }
            Op::Log => {
                if x[0] <= 0.0 || x[0].is_nan() {
                    return domain(format!(
                        "log({}): the logarithm needs a positive number",
                        py_repr(x[0])
                    ));
                }
                (x[0].ln(), vec![1.0 / x[0]])
            }
            Op::Sigmoid => {
                let out = 1.0 / (1.0 + (-x[0]).exp());
                (out, vec![out * (1.0 - out)])
            }
            Op::Relu => {
                if x[0] > 0.0 {
                    (x[0], vec![1.0])
                } else {
                    (0.0, vec![0.0])
                }
            }
            Op::Tanh => {
                let out = x[0].tanh();
                (out, vec![1.0 - out * out])
            }
        })
    }
}

/// A number as short as the book would write it: up to 6 significant digits, no `.0`.
///
/// Float noise such as `715.0000000000001` (which `buy_apple_orange.py` really computes)
/// becomes `715` and `3.3000000000000003` becomes `3.3`: the value is rounded to 6
/// significant digits (as C's `%g` does), printed as Python's shortest `repr` ([`py_repr`]), and an integral
/// result loses its `.0`. Exact values are kept elsewhere (text output, JSON, SVG tooltips).
///
/// ```
/// use backprop::graph::short;
/// assert_eq!(short(715.0000000000001), "715");
/// assert_eq!(short(3.3000000000000003), "3.3");
/// assert_eq!(short(-0.5), "-0.5");
/// assert_eq!(short(1.0 / 3.0), "0.333333");
/// assert_eq!(short(14.778112197861301), "14.7781");
/// assert_eq!(short(2.5e-12), "2.5e-12");
/// ```
pub fn short(x: f64) -> String {
    if !x.is_finite() {
        return py_repr(x);
    }
    // `{:.5e}` rounds to 6 significant digits; parsing it back gives the nearest float.
    let rounded: f64 = format!("{x:.5e}").parse().unwrap_or(x);
    let s = py_repr(rounded);
    match s.strip_suffix(".0") {
        Some(int) if int != "-0" => int.to_string(),
        Some(_) => "0".to_string(),
        None => s,
    }
}

/// One operation in a [`Graph`], with the values of the last forward and backward pass.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// What the node computes.
    pub op: Op,
    /// Its arguments, all created before it.
    pub args: Vec<NodeId>,
    /// Forward value.
    pub value: f64,
    /// Derivative of the graph's output with respect to this node (after backward).
    pub grad: f64,
    /// Local derivatives `∂value/∂args[i]` from the forward pass.
    pub local: Vec<f64>,
}

/// A scalar computation graph whose last node is the output.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Graph {
    /// The nodes in creation (= topological) order.
    pub nodes: Vec<Node>,
    /// What the output is called in pictures and printouts (`price`, `f`).
    pub output_name: String,
    /// The expression the graph was built from, for titles.
    pub source: String,
    /// Input names to their nodes, so that a long expression finds its names quickly.
    names: HashMap<String, NodeId>,
}

impl Graph {
    /// An empty graph whose output will be called `output_name`.
    pub fn new(output_name: impl Into<String>) -> Self {
        Graph {
            output_name: output_name.into(),
            ..Graph::default()
        }
    }

    /// The input called `name`, created (with value 0) on first use: a name used twice is
    /// one node with two outgoing edges, so its gradients add up.
    pub fn input(&mut self, name: &str) -> NodeId {
        match self.find(name) {
            Some(id) => id,
            None => self.push(Op::Input(name.to_string()), &[]),
        }
    }

    /// The input called `name`, if there is one.
    pub fn find(&self, name: &str) -> Option<NodeId> {
        self.names.get(name).copied()
    }

    /// A constant.
    pub fn constant(&mut self, value: f64) -> NodeId {
        let id = self.push(Op::Const(value), &[]);
        self.nodes[id].value = value;
        id
    }

    /// Appends `op` applied to `args` and returns its id.
    ///
    /// # Panics
    /// If the number of arguments does not fit `op` or an argument does not exist yet
    /// (a programming error: that would break the topological order).
    pub fn push(&mut self, op: Op, args: &[NodeId]) -> NodeId {
        let id = self.nodes.len();
        assert_eq!(
            args.len(),
            op.arity(),
            "{op:?} takes {} arguments",
            op.arity()
        );
        assert!(
            args.iter().all(|&a| a < id),
            "arguments must exist before use"
        );
        if let Op::Input(name) = &op {
            self.names.insert(name.clone(), id);
        }
        self.nodes.push(Node {
            op,
            args: args.to_vec(),
            value: 0.0,
            grad: 0.0,
            local: Vec::new(),
        });
        id
    }

    /// The output node (the last one).
    pub fn output(&self) -> Option<NodeId> {
        self.nodes.len().checked_sub(1)
    }

    /// Node `i` as the text output and the pictures show it: an input's name, `constant 2`,
    /// `#0 × #1`, `#0^-1`, `−#0`, `exp(#0)` (arguments by their `#` numbers).
    pub fn label(&self, i: NodeId) -> String {
        let n = &self.nodes[i];
        match &n.op {
            Op::Input(name) => name.clone(),
            Op::Const(c) => format!("constant {}", short(*c)),
            op if n.args.len() == 2 => format!("#{} {} #{}", n.args[0], op.symbol(), n.args[1]),
            Op::Pow(p) => format!("#{}^{}", n.args[0], short(*p)),
            Op::Neg => format!("−#{}", n.args[0]),
            op => format!("{}(#{})", op.symbol(), n.args[0]),
        }
    }

    /// The inputs' names in order of first appearance.
    pub fn input_names(&self) -> Vec<&str> {
        self.nodes
            .iter()
            .filter_map(|n| match &n.op {
                Op::Input(name) => Some(name.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Sets the input called `name`.
    pub fn set(&mut self, name: &str, value: f64) -> Result<()> {
        let id = self.find(name).ok_or_else(|| {
            Error::needs(
                format!(
                    "there is no `{name}` in the expression (its names: {})",
                    list(&self.input_names())
                ),
                Fix::NoSuchName(name.to_string()),
            )
        })?;
        self.nodes[id].value = value;
        Ok(())
    }

    /// Computes every node's value from its arguments, left to right, remembering the local
    /// derivatives for [`backward`](Self::backward). Returns the output's value, or a domain
    /// error naming the first node whose value is not a finite number (an overflow to ±∞, or
    /// NaN): what follows from it would be meaningless.
    pub fn forward(&mut self) -> Result<f64> {
        self.forward_from(0)
    }

    /// [`forward`](Self::forward) for the nodes from `start` on (the parser evaluates a
    /// constant exponent this way before folding it into its `Pow` node).
    pub(crate) fn forward_from(&mut self, start: NodeId) -> Result<f64> {
        let mut args = Vec::with_capacity(2);
        for i in start..self.nodes.len() {
            if self.nodes[i].op.arity() == 0 {
                continue;
            }
            args.clear();
            args.extend(self.nodes[i].args.iter().map(|&a| self.nodes[a].value));
            let (value, local) = self.nodes[i].op.apply(&args)?;
            if !value.is_finite() {
                return Err(Error::Invalid(format!(
                    "node #{i} ({}) is {}: the value is not a finite number",
                    self.label(i),
                    py_repr(value)
                )));
            }
            self.nodes[i].value = value;
            self.nodes[i].local = local;
        }
        Ok(self.output().map_or(0.0, |o| self.nodes[o].value))
    }

    /// Backpropagation: starts with `∂out/∂out = 1` at the output and, right to left, sends
    /// each node's `grad · local[i]` to its argument `i` (the chain rule), adding up what
    /// arrives at a node through several edges.
    ///
    /// A derivative that is not a finite number (`d√x/dx` at 0, or a product that
    /// overflows) is a domain error naming the node, checked once all have arrived.
    pub fn backward(&mut self) -> Result<()> {
        for n in &mut self.nodes {
            n.grad = 0.0;
        }
        let Some(out) = self.output() else {
            return Ok(());
        };
        self.nodes[out].grad = 1.0;
        for i in (0..self.nodes.len()).rev() {
            if !self.nodes[i].grad.is_finite() {
                return Err(Error::Invalid(format!(
                    "the derivative of {} by node #{i} ({}) is {}: not a finite number",
                    self.output_name,
                    self.label(i),
                    py_repr(self.nodes[i].grad)
                )));
            }
            for k in 0..self.nodes[i].args.len() {
                let d = self.edge_grad(i, k);
                let a = self.nodes[i].args[k];
                self.nodes[a].grad += d;
            }
        }
        Ok(())
    }

    /// The derivative carried backward along the edge into argument `k` of node `i`:
    /// `grad(i) · ∂i/∂arg_k`, the red number under that arrow in the book's figures.
    pub fn edge_grad(&self, i: NodeId, k: usize) -> f64 {
        let n = &self.nodes[i];
        n.grad * n.local.get(k).copied().unwrap_or(0.0)
    }

    /// `(name, value, ∂output/∂name)` for every input, in order of first appearance.
    pub fn gradients(&self) -> Vec<(&str, f64, f64)> {
        self.nodes
            .iter()
            .filter_map(|n| match &n.op {
                Op::Input(name) => Some((name.as_str(), n.value, n.grad)),
                _ => None,
            })
            .collect()
    }

    /// The graph's values in one record: the output's value (0 for an empty graph) and each
    /// input's value and derivative, as [`Graph::gradients`] lists them.
    pub fn record(&self) -> GraphRecord<'_> {
        GraphRecord {
            expression: &self.source,
            output: &self.output_name,
            value: self.output().map_or(0.0, |i| self.nodes[i].value),
            inputs: self
                .gradients()
                .into_iter()
                .map(|(name, value, grad)| InputRecord { name, value, grad })
                .collect(),
        }
    }
}

/// An evaluated graph ([`Graph::record`]), serialised (serde) in this field order:
/// `{"expression": …, "output": …, "value": …, "inputs": [{"name": …, "value": …, "grad": …},
/// …]}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GraphRecord<'a> {
    /// The expression the graph was built from ([`Graph::source`]).
    pub expression: &'a str,
    /// The output's name ([`Graph::output_name`]).
    pub output: &'a str,
    /// The output's value.
    pub value: f64,
    /// Every input, in order of first appearance.
    pub inputs: Vec<InputRecord<'a>>,
}

/// An input of a [`GraphRecord`]: its value and the output's derivative with respect to it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InputRecord<'a> {
    /// The input's name.
    pub name: &'a str,
    /// Its value.
    pub value: f64,
    /// `∂output/∂name`.
    pub grad: f64,
}

/// `a, b, c`, or the first ten and a count when there are more.
pub(crate) fn list(names: &[&str]) -> String {
    if names.len() <= 10 {
        names.join(", ")
    } else {
        format!("{}, … ({} in all)", names[..10].join(", "), names.len())
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.symbol())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The record of `apple * apple_num * tax` (fig. 5-15 with the book's values): the price
    /// 100 · 2 · 1.1 = 220 and the book's derivatives 2.2, 110 and 200, in this field order.
    #[test]
    fn a_record_holds_the_output_and_each_input_in_order() {
        let g = crate::graph::expr::evaluate(
            "apple * apple_num * tax",
            "price",
            &[("apple", 100.0), ("apple_num", 2.0), ("tax", 1.1)],
        )
        .unwrap();
        let r = g.record();
        assert_eq!(
            (r.expression, r.output),
            ("apple * apple_num * tax", "price")
        );
        assert!((r.value - 220.0).abs() < 1e-12);
        let names: Vec<&str> = r.inputs.iter().map(|i| i.name).collect();
        assert_eq!(names, ["apple", "apple_num", "tax"]);
        for (input, grad) in r.inputs.iter().zip([2.2, 110.0, 200.0]) {
            assert!((input.grad - grad).abs() < 1e-9, "{input:?}");
        }
        let json = serde_json::to_string(&r).unwrap();
        assert!(
            json.starts_with(
                r#"{"expression":"apple * apple_num * tax","output":"price","value":220.0"#
            ),
            "{json}"
        );
        assert!(
            json.contains(r#""inputs":[{"name":"apple","value":100.0,"grad":2.2"#),
            "{json}"
        );
        assert_eq!(Graph::new("f").record().value, 0.0);
    }

    #[test]
    fn shared_input_adds_its_gradients() {
        // f = x·x + x at x = 3: f = 12, df/dx = 2x + 1 = 7 (by hand).
        let mut g = Graph::new("f");
        let x = g.input("x");
        let xx = g.push(Op::Mul, &[x, x]);
        assert_eq!(g.input("x"), x, "one node per name");
        g.push(Op::Add, &[xx, x]);
        g.set("x", 3.0).unwrap();
        assert_eq!(g.forward().unwrap(), 12.0);
        g.backward().unwrap();
        assert_eq!(g.gradients(), vec![("x", 3.0, 7.0)]);
        // The two edges into x·x carry 3 each, the edge into + carries 1.
        assert_eq!((g.edge_grad(xx, 0), g.edge_grad(xx, 1)), (3.0, 3.0));
    }

    #[test]
    fn domain_errors_are_errors() {
        for (op, v) in [(Op::Log, 0.0), (Op::Log, -1.0), (Op::Pow(0.5), -4.0)] {
            let mut g = Graph::new("f");
            let x = g.input("x");
            g.push(op.clone(), &[x]);
            g.set("x", v).unwrap();
            let e = g.forward().unwrap_err().to_string();
            assert!(e.contains("log(") || e.contains("not real"), "{op:?}: {e}");
        }
        let mut g = Graph::new("f");
        let x = g.input("x");
        let z = g.constant(0.0);
        g.push(Op::Div, &[x, z]);
        assert!(
            g.forward()
                .unwrap_err()
                .to_string()
                .contains("division by zero")
        );
    }

    #[test]
    fn setting_an_unknown_name_is_an_error() {
        let mut g = Graph::new("f");
        g.input("x");
        let e = g.set("y", 1.0).unwrap_err().to_string();
        assert!(e.contains("no `y`") && e.contains("x"), "{e}");
    }

    #[test]
    fn short_numbers() {
        assert_eq!(short(110.00000000000001), "110");
        assert_eq!(short(1.1), "1.1");
        assert_eq!(short(-0.0), "0");
        assert_eq!(short(1e20), "1e+20");
        assert_eq!(short(f64::INFINITY), "inf");
    }
}
