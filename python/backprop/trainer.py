"""``common/trainer.py``: ``Trainer`` runs the book's training loop and prints its lines."""

import html
import math
import sys
import time

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
    ``train_acc_list`` and ``test_acc_list`` hold the history.

    ``verbose`` prints the book's lines. ``progress`` shows a progress bar: in Jupyter one
    display updated in place, in a terminal one line on stderr rewritten in place, elsewhere
    (a pipe, a log) one line at the end. ``None`` (the default) shows it in Jupyter always and
    in a terminal when ``verbose`` is off (the book's lines are the progress there)."""

    def __init__(self, network, x_train, t_train, x_test, t_test, epochs=20, mini_batch_size=100,
                 optimizer="SGD", optimizer_param=None, evaluate_sample_num_per_epoch=None,
                 verbose=True, progress=None):
        self.network = network
        self.verbose = verbose
        self.progress = progress
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
        bar = self._progress_bar()
        fast = self._fast_path_data()
        if fast is not None:
            return self._train_in_library(*fast, bar)
        if bar is not None:
            bar.start(self.max_iter)
        for _ in range(self.max_iter):
            epochs = len(self.test_acc_list)
            self.train_step()
            if bar is not None:
                bar.step(self.current_iter, self.train_loss_list[-1])
                if len(self.test_acc_list) > epochs:
                    bar.eval(self.current_epoch, self.train_acc_list[-1], self.test_acc_list[-1])
        if bar is not None:
            bar.close()
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

    def _progress_bar(self):
        want = self.progress
        notebook = _in_notebook()
        if want is None:
            want = notebook or (not self.verbose and _isatty(sys.stderr))
        return ProgressBar(notebook=notebook) if want else None

    def _train_in_library(self, x_train, t_train, x_test, t_test, max_value, bar=None):
        eval_every = max(int(round(self.iter_per_epoch)), 1)
        try:
            result = _core.fit(
                self.network._net, x_train, t_train, x_test, t_test, max_value, self.max_iter,
                self.batch_size, eval_every, self.evaluate_sample_num_per_epoch,
                self.optimizer_name, self.optimizer_param, None, self.verbose, bar,
            )
        finally:
            if bar is not None:
                bar.close()
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


def _in_notebook():
    """Whether this runs in a Jupyter kernel (which displays HTML and updates it in place)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # noqa: BLE001 (any failure means: not a notebook)
        return False
    return shell is not None and hasattr(shell, "kernel")


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class ProgressBar:
    """Training progress: steps done of the total, the last loss, the last evaluation and the
    time taken. In Jupyter (``notebook=True``) an HTML bar in one display that every update
    replaces (``IPython.display.display(..., display_id=True)``; no widgets needed); else a
    text line on ``out`` (stderr), rewritten in place with ``\\r`` when ``out`` is a terminal
    and written once at the end otherwise. Updates come at most every ``interval`` seconds,
    and at the start, at each evaluation and at the end."""

    WIDTH = 30

    def __init__(self, notebook=False, out=None, interval=0.2):
        self.notebook = notebook
        self.out = sys.stderr if out is None else out
        self.interval = interval
        self.total = None
        self.iter = 0
        self.loss = None
        self.epoch = None
        self.train_acc = self.test_acc = None
        self._start = time.monotonic()
        self._shown = -math.inf
        self._handle = None
        self._tty = _isatty(self.out)
        self._width = 0
        self._closed = False

    # -- what the training loop calls -------------------------------------------------------
    def start(self, total):
        self.total = total
        self._start = time.monotonic()
        self._show(force=True)

    def step(self, iter, loss):  # noqa: A002 (the loop's name)
        self.iter, self.loss = iter, loss
        self._show()

    def eval(self, epoch, train_acc, test_acc):
        self.epoch, self.train_acc, self.test_acc = epoch, train_acc, test_acc
        self._show(force=True)

    def close(self):
        if not self._closed:
            self._closed = True
            self._show(force=True, final=True)

    # -- how it looks -------------------------------------------------------------------------
    def fraction(self):
        return min(self.iter / self.total, 1.0) if self.total else 0.0

    def text(self):
        done = round(self.fraction() * self.WIDTH)
        parts = [f"[{'#' * done}{'.' * (self.WIDTH - done)}] {self.iter}/{self.total or '?'} steps"]
        if self.loss is not None:
            parts.append(f"loss {self.loss:.4f}")
        if self.epoch is not None:
            parts.append(f"epoch {self.epoch}: train acc {self.train_acc:.4f}, test acc {self.test_acc:.4f}")
        parts.append(f"{time.monotonic() - self._start:.1f} s")
        return "  ".join(parts)

    def _repr_html_(self):
        pct = 100 * self.fraction()
        return (
            '<div class="backprop-progress" style="font-family: monospace; font-size: 12px">'
            '<span style="display: inline-block; width: 240px; height: 10px; border: 1px solid #999;'
            ' vertical-align: middle; margin-right: 8px">'
            f'<span style="display: block; width: {pct:.1f}%; height: 100%; background: #3b7dd8">'
            "</span></span>"
            f"{html.escape(self.text().split('] ', 1)[1])}</div>"
        )

    def __repr__(self):
        return self.text()

    def _show(self, force=False, final=False):
        now = time.monotonic()
        if not force and now - self._shown < self.interval:
            return
        self._shown = now
        if self.notebook:
            from IPython.display import display

            view = _Snapshot(self._repr_html_(), self.text())
            if self._handle is None:
                self._handle = display(view, display_id=True)
            else:
                self._handle.update(view)
        elif self._tty:
            # Padded to the last line's length, so that a shorter line leaves nothing behind.
            line = self.text()
            self.out.write("\r" + line.ljust(self._width) + ("\n" if final else ""))
            self._width = len(line)
            self.out.flush()
        elif final:
            self.out.write(self.text() + "\n")
            self.out.flush()


class _Snapshot:
    """One state of a ProgressBar, as Jupyter displays it (HTML, with the text line as the
    plain-text form)."""

    def __init__(self, html_text, plain):
        self._html, self._plain = html_text, plain

    def _repr_html_(self):
        return self._html

    def __repr__(self):
        return self._plain


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

__all__ = ["Trainer", "ProgressBar"]
