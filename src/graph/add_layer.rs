//! The addition node of the book's computation graph (§5.4.2).

/// `out = x + y`.
///
/// Backward: `∂out/∂x = ∂out/∂y = 1`, so the node passes `dout` unchanged to **both**
/// inputs: `dx = dout · 1`, `dy = dout · 1`. (The seed notebook forgot to return them.)
///
/// ```
/// use backprop::graph::AddLayer;
/// let mut add = AddLayer::new();
/// assert_eq!(add.forward(200.0, 450.0), 650.0);
/// assert_eq!(add.backward(1.1), (1.1, 1.1));
/// ```
#[derive(Clone, Debug, Default)]
pub struct AddLayer;

impl AddLayer {
    /// An addition node (it needs no state).
    pub fn new() -> Self {
        AddLayer
    }

    /// Returns `x + y`.
    pub fn forward(&mut self, x: f64, y: f64) -> f64 {
        x + y
    }

    /// Returns `(dout, dout)`.
    pub fn backward(&self, dout: f64) -> (f64, f64) {
        let dx = dout * 1.0;
        let dy = dout * 1.0;
        (dx, dy)
    }
}
