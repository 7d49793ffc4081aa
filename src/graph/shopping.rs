//! The book's shopping examples (§5.4): apples, oranges and consumption tax, forward and
//! backward through [`MulLayer`] and [`AddLayer`] nodes.

use super::expr;
use super::{AddLayer, Graph, MulLayer};
use crate::error::Result;

/// Every forward and backward value of the apple-and-orange graph (fig. 5-17).
#[derive(Clone, Debug, PartialEq)]
pub struct AppleOrange {
    /// Price of one apple (100).
    pub apple: f64,
    /// Number of apples (2).
    pub apple_num: f64,
    /// Price of one orange (150).
    pub orange: f64,
    /// Number of oranges (3).
    pub orange_num: f64,
    /// Consumption tax factor (1.1).
    pub tax: f64,
    /// `apple · apple_num`.
    pub apple_price: f64,
    /// `orange · orange_num`.
    pub orange_price: f64,
    /// `apple_price + orange_price`.
    pub all_price: f64,
    /// `all_price · tax`, the output.
    pub price: f64,
    /// ∂price/∂apple_price and ∂price/∂orange_price (both the same, through the add node).
    pub d_apple_price: f64,
    /// ∂price/∂orange_price.
    pub d_orange_price: f64,
    /// ∂price/∂all_price.
    pub d_all_price: f64,
    /// ∂price/∂apple.
    pub d_apple: f64,
    /// ∂price/∂apple_num.
    pub d_apple_num: f64,
    /// ∂price/∂orange.
    pub d_orange: f64,
    /// ∂price/∂orange_num.
    pub d_orange_num: f64,
    /// ∂price/∂tax.
    pub d_tax: f64,
}

/// Runs the book's `buy_apple_orange.py` graph forward and backward.
pub fn buy_apple_orange() -> AppleOrange {
    let (apple, apple_num, orange, orange_num, tax) = (100.0, 2.0, 150.0, 3.0, 1.1);

    let mut mul_apple_layer = MulLayer::new();
    let mut mul_orange_layer = MulLayer::new();
    let mut add_apple_orange_layer = AddLayer::new();
    let mut mul_tax_layer = MulLayer::new();

    // forward
    let apple_price = mul_apple_layer.forward(apple, apple_num);
    let orange_price = mul_orange_layer.forward(orange, orange_num);
    let all_price = add_apple_orange_layer.forward(apple_price, orange_price);
    let price = mul_tax_layer.forward(all_price, tax);

    // backward
    let dprice = 1.0;
    let (d_all_price, d_tax) = mul_tax_layer.backward(dprice);
    let (d_apple_price, d_orange_price) = add_apple_orange_layer.backward(d_all_price);
    let (d_orange, d_orange_num) = mul_orange_layer.backward(d_orange_price);
    let (d_apple, d_apple_num) = mul_apple_layer.backward(d_apple_price);

    AppleOrange {
        apple,
        apple_num,
        orange,
        orange_num,
        tax,
        apple_price,
        orange_price,
        all_price,
        price,
        d_apple_price,
        d_orange_price,
        d_all_price,
        d_apple,
        d_apple_num,
        d_orange,
        d_orange_num,
        d_tax,
    }
}

/// One of the book's shopping graphs as an expression over the [`Graph`] nodes: its name on
/// the command line, the expression, the output's name and the book's input values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BookGraph {
    /// Name on the command line (`apple`, `apple-orange`).
    pub name: &'static str,
    /// The expression; `*` and `+` group left, so it builds the book's nodes in its order.
    pub source: &'static str,
    /// The output's name.
    pub output: &'static str,
    /// The book's input values.
    pub values: &'static [(&'static str, f64)],
}

/// Fig. 5-14/5-15: two apples and tax, `(apple × apple_num) × tax`.
pub const APPLE: BookGraph = BookGraph {
    name: "apple",
    source: "apple * apple_num * tax",
    output: "price",
    values: &[("apple", 100.0), ("apple_num", 2.0), ("tax", 1.1)],
};

/// Fig. 5-17: `(apple × apple_num + orange × orange_num) × tax`.
pub const APPLE_ORANGE: BookGraph = BookGraph {
    name: "apple-orange",
    source: "(apple * apple_num + orange * orange_num) * tax",
    output: "price",
    values: &[
        ("apple", 100.0),
        ("apple_num", 2.0),
        ("orange", 150.0),
        ("orange_num", 3.0),
        ("tax", 1.1),
    ],
};

impl BookGraph {
    /// The graph by its command-line name.
    pub fn by_name(name: &str) -> Option<BookGraph> {
        [APPLE, APPLE_ORANGE].into_iter().find(|g| g.name == name)
    }

    /// Builds the graph with the book's values, overridden by `overrides`, and runs
    /// forward and backward.
    pub fn evaluate(&self, overrides: &[(&str, f64)]) -> Result<Graph> {
        let mut values = self.values.to_vec();
        values.extend_from_slice(overrides);
        expr::evaluate(self.source, self.output, &values)
    }
}

/// Fig. 5-15 as a [`Graph`], forward and backward done.
pub fn apple_graph() -> Graph {
    APPLE.evaluate(&[]).expect("the book's graph evaluates")
}

/// Fig. 5-17 as a [`Graph`], forward and backward done.
pub fn apple_orange_graph() -> Graph {
    APPLE_ORANGE
        .evaluate(&[])
        .expect("the book's graph evaluates")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_matches_the_layers() {
        // The expression graph and the book's MulLayer/AddLayer code agree bit for bit.
        let l = buy_apple_orange();
        let g = apple_orange_graph();
        let grads: Vec<f64> = g.gradients().iter().map(|t| t.2).collect();
        assert_eq!(
            grads,
            [
                l.d_apple,
                l.d_apple_num,
                l.d_orange,
                l.d_orange_num,
                l.d_tax
            ]
        );
        assert_eq!(g.nodes.last().unwrap().value, l.price);
        let values: Vec<f64> = g.nodes.iter().map(|n| n.value).collect();
        for v in [l.apple_price, l.orange_price, l.all_price] {
            assert!(values.contains(&v), "{v}");
        }
        let a = apple_graph();
        assert_eq!(
            a.gradients(),
            [
                ("apple", 100.0, 2.2),
                ("apple_num", 2.0, 110.00000000000001),
                ("tax", 1.1, 200.0)
            ]
        );
    }

    #[test]
    fn book_numbers() {
        let g = buy_apple_orange();
        // ch05/buy_apple_orange.py (§5.4.2) prints these through int(), as 715, 110 and 165;
        // the floats themselves, as Python computes them: price = (100·2 + 150·3)·1.1 =
        // 650·1.1, ∂/∂apple_num = 1.1·100, ∂/∂orange_num = 1.1·150, ∂/∂orange = 1.1·3.
        assert_eq!(g.price, 715.0000000000001);
        assert_eq!(g.d_apple, 2.2);
        assert_eq!(g.d_apple_num, 110.00000000000001);
        assert_eq!(g.d_orange, 3.3000000000000003);
        assert_eq!(g.d_orange_num, 165.0);
        assert_eq!(g.d_tax, 650.0);
        assert_eq!((g.d_apple_price, g.d_orange_price), (1.1, 1.1));
    }
}
