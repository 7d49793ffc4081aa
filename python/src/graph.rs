//! Computational graphs (§5.1–5.4) for notebooks: `backprop.graph("x*y + z", x=2, y=3, z=1)`
//! and the book's apple graphs, drawn as the SVG `backprop graph --svg` writes.

use backprop::graph::shopping::{APPLE, APPLE_ORANGE};
use backprop::graph::{Graph as RGraph, expr, render};
use pyo3::exceptions::PyAttributeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::to_py;

/// A computational graph after its forward and backward passes: `value` is the output,
/// `grads` maps each input to ∂output/∂input (also as attributes `d<name>`, e.g. `g.dx`),
/// `inputs` maps each input to its value. In Jupyter it displays as an SVG.
#[pyclass(module = "backprop", frozen)]
pub struct Graph {
    inner: RGraph,
}

#[pymethods]
impl Graph {
    /// The output's value.
    #[getter]
    fn value(&self) -> f64 {
        self.inner
            .output()
            .map(|i| self.inner.nodes[i].value)
            .unwrap_or(f64::NAN)
    }
    /// The output's name (`price` for the apple graphs).
    #[getter]
    fn output_name(&self) -> String {
        self.inner.output_name.clone()
    }
    /// The expression the graph was built from.
    #[getter]
    fn source(&self) -> String {
        self.inner.source.clone()
    }
    /// `{input: ∂output/∂input}` in order of first appearance.
    #[getter]
    fn grads<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (name, _, g) in self.inner.gradients() {
            d.set_item(name, g)?;
        }
        Ok(d)
    }
    /// `{input: value}`.
    #[getter]
    fn inputs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (name, v, _) in self.inner.gradients() {
            d.set_item(name, v)?;
        }
        Ok(d)
    }
    /// `g.d<name>` is the gradient with respect to input `<name>`; `g.<name>` its value.
    fn __getattr__(&self, name: &str) -> PyResult<f64> {
        let grads = self.inner.gradients();
        if let Some(&(_, v, _)) = grads.iter().find(|(n, _, _)| *n == name) {
            return Ok(v);
        }
        if let Some(rest) = name.strip_prefix('d')
            && let Some(&(_, _, g)) = grads.iter().find(|(n, _, _)| *n == rest)
        {
            return Ok(g);
        }
        Err(PyAttributeError::new_err(format!(
            "the graph has no input {name:?} (inputs: {})",
            grads.iter().map(|g| g.0).collect::<Vec<_>>().join(", ")
        )))
    }
    /// The picture `backprop graph --svg` draws: forward values above the edges, gradients
    /// below.
    fn _repr_svg_(&self) -> String {
        render::to_svg(&self.inner)
    }
    /// Graphviz DOT source.
    fn to_dot(&self) -> String {
        render::to_dot(&self.inner)
    }
    fn __str__(&self) -> String {
        render::to_text(&self.inner)
    }
    fn __repr__(&self) -> String {
        format!(
            "<backprop.Graph {:?}: {} = {}>",
            self.inner.source,
            self.inner.output_name,
            self.value()
        )
    }
}

/// Builds the graph of `expression` (`+ - * / ^`, `exp`, `log`, …), sets its inputs from the
/// keyword arguments and runs it forward and backward.
#[pyfunction]
#[pyo3(signature = (expression, output="f", **values))]
fn graph(expression: &str, output: &str, values: Option<&Bound<'_, PyDict>>) -> PyResult<Graph> {
    let mut vals: Vec<(String, f64)> = Vec::new();
    if let Some(d) = values {
        for (k, v) in d.iter() {
            vals.push((k.extract()?, v.extract()?));
        }
    }
    let refs: Vec<(&str, f64)> = vals.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let inner = expr::evaluate(expression, output, &refs).map_err(to_py)?;
    Ok(Graph { inner })
}

fn book_graph(
    g: backprop::graph::shopping::BookGraph,
    values: Option<&Bound<'_, PyDict>>,
) -> PyResult<Graph> {
    let mut vals: Vec<(String, f64)> = Vec::new();
    if let Some(d) = values {
        for (k, v) in d.iter() {
            vals.push((k.extract()?, v.extract()?));
        }
    }
    let refs: Vec<(&str, f64)> = vals.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    Ok(Graph {
        inner: g.evaluate(&refs).map_err(to_py)?,
    })
}

/// Fig. 5-15: `apple * apple_num * tax` with the book's 100, 2, 1.1 (override by keyword).
#[pyfunction]
#[pyo3(signature = (**values))]
fn apple_graph(values: Option<&Bound<'_, PyDict>>) -> PyResult<Graph> {
    book_graph(APPLE, values)
}

/// Fig. 5-17: `(apple * apple_num + orange * orange_num) * tax`.
#[pyfunction]
#[pyo3(signature = (**values))]
fn apple_orange_graph(values: Option<&Bound<'_, PyDict>>) -> PyResult<Graph> {
    book_graph(APPLE_ORANGE, values)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Graph>()?;
    m.add_function(wrap_pyfunction!(graph, m)?)?;
    m.add_function(wrap_pyfunction!(apple_graph, m)?)?;
    m.add_function(wrap_pyfunction!(apple_orange_graph, m)?)?;
    Ok(())
}
