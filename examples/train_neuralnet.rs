//! The book's `ch05/train_neuralnet.py`: TwoLayerNet trained by backprop with plain SGD,
//! printing train and test accuracy once per epoch (on the embedded digits).

use backprop::data::{Layout, digits};
use backprop::eval::accuracy;
use backprop::functions::Targets;
use backprop::nets::TwoLayerNet;
use backprop::optim::{Optimizer, Sgd};
use backprop::rng::Rng;
use backprop::train::book_iters_per_epoch;

fn main() -> backprop::Result<()> {
    let data = digits::load_digits()?.split(0.8, &mut Rng::stream(42, "split"));
    let (x_train, x_test) = (&data.train, &data.test);
    let mut network = TwoLayerNet::<f32>::new(64, 50, 10, 0.01, &mut Rng::stream(42, "init"));

    let iters_num = 3000;
    let train_size = x_train.len();
    let batch_size = 100;
    let learning_rate = 0.1;
    let iter_per_epoch = book_iters_per_epoch(train_size, batch_size); // max(train_size / batch_size, 1)
    let mut optimizer = Sgd::new(learning_rate);
    let mut rng = Rng::stream(42, "batches");
    let mut t_batch = Vec::new();

    for i in 0..iters_num {
        // batch_mask = np.random.choice(train_size, batch_size)
        let batch_mask: Vec<usize> = (0..batch_size).map(|_| rng.below(train_size)).collect();
        let x_batch = x_train.batch::<f32>(&batch_mask, Layout::Flat, &mut t_batch);

        network.gradient(x_batch, Targets::Labels(&t_batch)); // backprop
        optimizer.update(&mut network.params());

        if i % iter_per_epoch == 0 {
            let train_acc = accuracy(&mut network, x_train, Layout::Flat, 1000, None);
            let test_acc = accuracy(&mut network, x_test, Layout::Flat, 1000, None);
            println!("{train_acc} {test_acc}");
        }
    }
    Ok(())
}
