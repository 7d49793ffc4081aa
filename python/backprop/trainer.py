"""``common/trainer.py``: ``Trainer`` runs the book's training loop and prints its lines."""

import numpy as np

from . import optimizer as _optimizer

_RULES = {
    "sgd": _optimizer.SGD,
    "momentum": _optimizer.Momentum,
    "nesterov": _optimizer.Nesterov,
    "adagrad": _optimizer.AdaGrad,
    "rmsprop": _optimizer.RMSprop,
    "adam": _optimizer.Adam,
}


class Trainer:
    """The book's Trainer: ``epochs`` passes of ``mini_batch_size`` samples drawn at random
    (with replacement, as ``np.random.choice`` does), an update by ``optimizer`` (a name and
    ``optimizer_param``) per step, and train/test accuracy after every epoch on
    ``evaluate_sample_num_per_epoch`` samples (all when ``None``). ``train_loss_list``,
    ``train_acc_list`` and ``test_acc_list`` hold the history."""

    def __init__(self, network, x_train, t_train, x_test, t_test, epochs=20, mini_batch_size=100,
                 optimizer="SGD", optimizer_param=None, evaluate_sample_num_per_epoch=None,
                 verbose=True):
        self.network = network
        self.verbose = verbose
        self.x_train, self.t_train = x_train, t_train
        self.x_test, self.t_test = x_test, t_test
        self.epochs = epochs
        self.batch_size = mini_batch_size
        self.evaluate_sample_num_per_epoch = evaluate_sample_num_per_epoch
        key = optimizer.lower()
        if key not in _RULES:
            raise ValueError(f"unknown optimizer {optimizer!r}; expected one of {', '.join(_RULES)}")
        self.optimizer = _RULES[key](**(optimizer_param if optimizer_param is not None else {"lr": 0.01}))
        self.train_size = x_train.shape[0]
        self.iter_per_epoch = max(self.train_size / mini_batch_size, 1)
        self.max_iter = int(epochs * self.iter_per_epoch)
        self.current_iter = 0
        self.current_epoch = 0
        self.train_loss_list = []
        self.train_acc_list = []
        self.test_acc_list = []

    def _evaluate(self):
        x_tr, t_tr, x_te, t_te = self.x_train, self.t_train, self.x_test, self.t_test
        n = self.evaluate_sample_num_per_epoch
        if n is not None:
            x_tr, t_tr, x_te, t_te = x_tr[:n], t_tr[:n], x_te[:n], t_te[:n]
        return self.network.accuracy(x_tr, t_tr), self.network.accuracy(x_te, t_te)

    def train_step(self):
        """One update on a random mini-batch; after each epoch's last step, an evaluation."""
        batch_mask = np.random.choice(self.train_size, self.batch_size)
        x_batch, t_batch = self.x_train[batch_mask], self.t_train[batch_mask]
        grads = self.network.gradient(x_batch, t_batch)
        self.optimizer.update(self.network.params, grads)
        loss = self.network.loss(x_batch, t_batch)
        self.train_loss_list.append(loss)
        if self.verbose:
            print("train loss:" + str(loss))
        if self.current_iter % self.iter_per_epoch == 0:
            self.current_epoch += 1
            train_acc, test_acc = self._evaluate()
            self.train_acc_list.append(train_acc)
            self.test_acc_list.append(test_acc)
            if self.verbose:
                print(f"=== epoch:{self.current_epoch}, train acc:{train_acc}, test acc:{test_acc} ===")
        self.current_iter += 1

    def train(self):
        """Runs every step, then prints the final test accuracy on the whole test set."""
        for _ in range(self.max_iter):
            self.train_step()
        test_acc = self.network.accuracy(self.x_test, self.t_test)
        if self.verbose:
            print("=============== Final Test Accuracy ===============")
            print("test acc:" + str(test_acc))
        return test_acc


__all__ = ["Trainer"]
