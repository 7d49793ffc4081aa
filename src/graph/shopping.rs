//! The book's shopping examples (§5.4): apples, oranges and consumption tax, forward and
//! backward through [`MulLayer`] and [`AddLayer`] nodes.

use super::{AddLayer, MulLayer};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn book_numbers() {
        let g = buy_apple_orange();
        // Hand-computed: 1.1 · (100·2 + 150·3) = 715, with the float rounding Python shows.
        assert_eq!(g.price as i64, 715);
        assert_eq!(g.d_apple, 2.2);
        assert_eq!(g.d_apple_num as i64, 110);
        assert_eq!(g.d_orange, 3.3000000000000003);
        assert_eq!(g.d_orange_num as i64, 165);
        assert_eq!(g.d_tax, 650.0);
        assert_eq!((g.d_apple_price, g.d_orange_price), (1.1, 1.1));
    }
}
