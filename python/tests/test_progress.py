"""Trainer's progress bar: one display updated in place in Jupyter (run through nbclient),
a text line in a terminal (rewritten with \\r) or at the end of a plain run."""

import io
import re

import numpy as np
import pytest

from backprop.dataset.mnist import load_digits
from backprop.trainer import ProgressBar, Trainer
from backprop.two_layer_net import TwoLayerNet

LINE = re.compile(
    r"\[(#*)(\.*)\] (\d+)/(\d+) steps  loss (\d+\.\d{4})  "
    r"epoch (\d+): train acc (\d\.\d{4}), test acc (\d\.\d{4})  \d+\.\d s"
)


def trainer(x_scale=None, **kw):
    (x, t), (xt, tt) = load_digits()
    if x_scale is not None:  # not bytes-exact: the book's loop in Python
        x, xt = x * x_scale, xt * x_scale
    return Trainer(TwoLayerNet(64, 20, 10, seed=1), x, t, xt, tt, epochs=2, mini_batch_size=100,
                   optimizer="SGD", optimizer_param={"lr": 0.1}, **kw)


@pytest.mark.parametrize("x_scale", [None, 0.999], ids=["library loop", "python loop"])
def test_a_plain_run_ends_with_the_bars_final_line(capsys, x_scale):
    tr = trainer(x_scale, verbose=False, progress=True)
    tr.train()
    out, err = capsys.readouterr()
    assert out == ""  # verbose=False: none of the book's lines
    lines = err.splitlines()
    assert len(lines) == 1, err
    m = LINE.fullmatch(lines[0])
    assert m, lines[0]
    bar, rest, done, total = m.group(1), m.group(2), int(m.group(3)), int(m.group(4))
    assert done == total == tr.max_iter and len(bar) == 30 and rest == ""
    assert float(m.group(5)) == pytest.approx(tr.train_loss_list[-1], abs=5e-5)
    assert int(m.group(6)) == len(tr.test_acc_list)
    assert float(m.group(7)) == pytest.approx(tr.train_acc_list[-1], abs=5e-5)
    assert float(m.group(8)) == pytest.approx(tr.test_acc_list[-1], abs=5e-5)


def test_verbose_prints_the_books_lines_and_no_bar_outside_notebooks(capsys):
    tr = trainer(verbose=True)
    tr.train()
    out, err = capsys.readouterr()
    assert "=== epoch:1, train acc:" in out and out.count("train loss:") == tr.max_iter
    assert "steps" not in err


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_in_a_terminal_the_line_is_rewritten_in_place():
    term = Terminal()
    bar = ProgressBar(out=term, interval=0)
    bar.start(4)
    for i in range(1, 5):
        bar.step(i, 1.0 / i)
    bar.eval(1, 0.5, 0.25)
    bar.close()
    text = term.getvalue()
    assert text.endswith("\n") and text.count("\n") == 1
    frames = text.rstrip("\n").split("\r")[1:]
    assert len(frames) == 1 + 4 + 1 + 1  # start, four steps, the evaluation, the end
    assert frames[0].startswith("[" + "." * 30 + "] 0/4 steps")
    assert frames[1].startswith("[" + "#" * 8 + "." * 22 + "] 1/4 steps  loss 1.0000")
    assert LINE.fullmatch(frames[-1].rstrip()).group(3, 4, 8) == ("4", "4", "0.2500")
    # A shorter line is padded over the longer one before it.
    assert all(len(b) >= len(a.rstrip()) for a, b in zip(frames, frames[1:]))


def test_updates_are_throttled_but_the_end_is_always_shown():
    term = Terminal()
    bar = ProgressBar(out=term, interval=3600)
    bar.start(1000)
    for i in range(1, 1001):
        bar.step(i, 0.5)
    bar.close()
    frames = term.getvalue().rstrip("\n").split("\r")[1:]
    assert len(frames) == 2 and "1000/1000 steps" in frames[-1]


def test_in_jupyter_one_display_shows_the_bars_final_state(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from backprop.dataset.mnist import load_digits\n"
            "from backprop.trainer import Trainer\n"
            "from backprop.two_layer_net import TwoLayerNet\n"
            "(x, t), (xt, tt) = load_digits()\n"
            "tr = Trainer(TwoLayerNet(64, 20, 10, seed=1), x, t, xt, tt, epochs=3, verbose=False,\n"
            "             optimizer_param={'lr': 0.1})\n"
            "result = tr.train()\n"
            "print(tr.max_iter, len(tr.test_acc_list), tr.test_acc_list[-1])"
        )
    ]
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, errors
    displays = [o for o in outputs if o.output_type == "display_data"]
    assert len(displays) == 1, outputs  # updated in place, not one output per update
    html = displays[0].data["text/html"]
    plain = displays[0].data["text/plain"]
    steps, evals, test_acc = next(o for o in outputs if o.output_type == "stream").text.split()
    assert 'class="backprop-progress"' in html and "width: 100.0%" in html
    assert f"{steps}/{steps} steps" in html
    m = LINE.fullmatch(plain)
    assert m and m.group(3) == m.group(4) == steps and m.group(6) == evals
    assert float(m.group(8)) == pytest.approx(float(test_acc), abs=5e-5)
