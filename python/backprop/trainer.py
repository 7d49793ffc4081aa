"""``common/trainer.py``: ``Trainer`` runs the book's training loop and prints its lines."""

import numpy as np

from . import _core
from . import optimizer as _optimizer
from ._net import BookNet

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
        self.optimizer_name = key
        self.optimizer_param = dict(optimizer_param if optimizer_param is not None else {"lr": 0.01})
        self.optimizer = _RULES[key](**self.optimizer_param)
        self.result = None
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
        """Runs every step, then prints the final test accuracy on the whole test set.

        With one of backprop's networks and image data that bytes represent exactly (such
        as ``load_mnist``'s or ``load_digits``'s arrays), the whole loop runs in the library,
        without the GIL, and returns the run (in Jupyter it displays the training report);
        Ctrl-C stops it after the step in progress with ``KeyboardInterrupt``. Otherwise the
        loop runs here in Python, step by step, as in the book."""
        fast = self._fast_path_data()
        if fast is not None:
            return self._train_in_library(*fast)
        for _ in range(self.max_iter):
            self.train_step()
        test_acc = self.network.accuracy(self.x_test, self.t_test)
        if self.verbose:
            print("=============== Final Test Accuracy ===============")
            print("test acc:" + str(test_acc))
        return None

    def _fast_path_data(self):
        if not isinstance(self.network, BookNet) or self.current_iter != 0:
            return None
        images = _as_bytes(self.x_train, self.x_test)
        if images is None:
            return None
        x_train, x_test, max_value = images
        t_train, t_test = _as_labels(self.t_train), _as_labels(self.t_test)
        if t_train is None or t_test is None:
            return None
        return x_train, t_train, x_test, t_test, max_value

    def _train_in_library(self, x_train, t_train, x_test, t_test, max_value):
        eval_every = max(int(round(self.iter_per_epoch)), 1)
        result = _core.fit(
            self.network._net, x_train, t_train, x_test, t_test, max_value, self.max_iter,
            self.batch_size, eval_every, self.evaluate_sample_num_per_epoch, self.optimizer_name,
            self.optimizer_param, None, self.verbose,
        )
        self.result = result
        self.train_loss_list = list(result.losses)
        self.train_acc_list = [h[3] for h in result.history]
        self.test_acc_list = [h[4] for h in result.history]
        self.current_iter = result.iters
        self.current_epoch = len(result.history)
        if self.verbose:
            print("=============== Final Test Accuracy ===============")
            print("test acc:" + str(result.test_acc))
        return result


def _as_bytes(x_train, x_test):
    """Both image arrays as uint8 and the value that maps to 1.0, when bytes represent them
    exactly (the loaders' k/255 and k/16, or raw uint8); else None."""
    if not (isinstance(x_train, np.ndarray) and isinstance(x_test, np.ndarray)):
        return None
    if x_train.dtype == np.uint8 and x_test.dtype == np.uint8:
        return x_train, x_test, 1
    if x_train.dtype.kind != "f" or x_test.dtype.kind != "f":
        return None
    for max_value in (255, 16):
        out = []
        for x in (x_train, x_test):
            q = np.rint(x * max_value)
            if q.size and (q.min() < 0 or q.max() > max_value):
                break
            scale = x.dtype.type(1) / x.dtype.type(max_value)
            if not np.array_equal(q.astype(x.dtype) * scale, x):
                break
            out.append(np.ascontiguousarray(q.astype(np.uint8)))
        else:
            return out[0], out[1], max_value
    return None


def _as_labels(t):
    t = np.asarray(t)
    if t.ndim == 2 and t.shape[1] > 1:
        t = t.argmax(axis=1)
    t = t.reshape(-1)
    if t.size and (t.min() < 0 or t.max() > 255 or not np.array_equal(np.rint(t), t)):
        return None
    return np.ascontiguousarray(t.astype(np.uint8))

__all__ = ["Trainer"]
