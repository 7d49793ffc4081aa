//! The multiplication node of the book's computation graph (§5.4.1).

/// `out = x · y`.
///
/// Backward: `∂out/∂x = y` and `∂out/∂y = x`, so the node swaps its inputs:
/// `dx = dout · y`, `dy = dout · x`. It remembers `x` and `y` from the forward pass for that.
///
/// ```
/// use backprop::graph::MulLayer;
/// let mut mul = MulLayer::new();
/// assert_eq!(mul.forward(100.0, 2.0), 200.0);
/// assert_eq!(mul.backward(1.0), (2.0, 100.0));
/// ```
#[derive(Clone, Debug, Default)]
pub struct MulLayer {
    x: f64,
    y: f64,
}

impl MulLayer {
    /// A node with nothing remembered yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Remembers `x`, `y` and returns `x · y`.
    pub fn forward(&mut self, x: f64, y: f64) -> f64 {
        self.x = x;
        self.y = y;
        x * y
    }

    /// Returns `(dout · y, dout · x)`.
    pub fn backward(&self, dout: f64) -> (f64, f64) {
        let dx = dout * self.y;
        let dy = dout * self.x;
        (dx, dy)
    }
}
