//! The book's `ch05/buy_apple.py`: two apples at 100 each with 10 % tax, forward and backward
//! through multiplication nodes (fig. 5-16).

use backprop::graph::MulLayer;
use backprop::pyfmt::py_repr;

fn main() {
    let apple = 100.0;
    let apple_num = 2.0;
    let tax = 1.1;

    let mut mul_apple_layer = MulLayer::new();
    let mut mul_tax_layer = MulLayer::new();

    // forward
    let apple_price = mul_apple_layer.forward(apple, apple_num);
    let price = mul_tax_layer.forward(apple_price, tax);

    // backward
    let dprice = 1.0;
    let (dapple_price, dtax) = mul_tax_layer.backward(dprice);
    let (dapple, dapple_num) = mul_apple_layer.backward(dapple_price);

    // The book prints int(price), int(dApple_num) and dTax, a Python int.
    println!("price: {}", price as i64);
    println!("dApple: {}", py_repr(dapple));
    println!("dApple_num: {}", dapple_num as i64);
    println!("dTax: {}", dtax as i64);
}
