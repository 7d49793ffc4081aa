"""common/trainer.py's Trainer: the book's lines, the library's loop for our networks (GIL
released, Ctrl-C stops it), the Python loop for anything else."""

import subprocess
import sys
import textwrap
import threading

import numpy as np

from backprop.dataset.mnist import load_digits
from backprop.multi_layer_net_extend import MultiLayerNetExtend
from backprop.simple_convnet import SimpleConvNet
from backprop.trainer import Trainer


def test_trainer_runs_in_the_library_and_prints_the_books_lines(capsys):
    (x_train, t_train), (x_test, t_test) = load_digits()
    np.random.seed(0)
    network = MultiLayerNetExtend(64, [100, 100], 10, use_batchnorm=True)
    trainer = Trainer(network, x_train, t_train, x_test, t_test, epochs=5, mini_batch_size=100,
                      optimizer="Adam", optimizer_param={"lr": 0.01}, evaluate_sample_num_per_epoch=300)
    before = network.accuracy(x_test, t_test)
    result = trainer.train()
    out = capsys.readouterr().out.splitlines()
    assert result is not None  # the library's loop ran
    assert out[0].startswith("train loss:")
    epochs = [line for line in out if line.startswith("=== epoch:")]
    assert len(epochs) == len(trainer.test_acc_list) == 6  # after steps 0, 14, …, 70 of 71
    assert epochs[0].startswith("=== epoch:1, train acc:") and epochs[-1].endswith(" ===")
    assert out[-2] == "=============== Final Test Accuracy ==============="
    assert out[-1] == "test acc:" + str(result.test_acc)
    assert len(trainer.train_loss_list) == trainer.max_iter == 71
    # it trained the network the Python object holds
    assert network.accuracy(x_test, t_test) == result.test_acc > before + 0.5
    assert result.test_acc > 0.9
    html = result._repr_html_()
    assert html.lstrip().lower().startswith("<!doctype html") and "<svg" in html


def test_trainer_on_other_data_runs_the_books_python_loop():
    (x_train, t_train), (x_test, t_test) = load_digits()
    np.random.seed(1)
    network = MultiLayerNetExtend(64, [50], 10)
    # values that bytes cannot represent: the step-by-step Python loop runs instead
    trainer = Trainer(network, x_train * 0.9 + 0.01, t_train, x_test * 0.9 + 0.01, t_test,
                      epochs=20, mini_batch_size=100, optimizer="SGD", optimizer_param={"lr": 0.1},
                      verbose=False)
    assert trainer.train() is None
    assert trainer.current_iter == trainer.max_iter
    assert trainer.network.accuracy(x_test * 0.9 + 0.01, t_test) > 0.8


def test_trainer_on_images_for_a_convnet():
    (x_train, t_train), (x_test, t_test) = load_digits(flatten=False)
    np.random.seed(2)
    network = SimpleConvNet(input_dim=(1, 8, 8), conv_param={"filter_num": 8, "filter_size": 3, "pad": 0, "stride": 1},
                            hidden_size=50, output_size=10, weight_init_std=0.01)
    trainer = Trainer(network, x_train, t_train, x_test, t_test, epochs=10, optimizer="Adam",
                      optimizer_param={"lr": 0.01}, verbose=False)
    result = trainer.train()
    assert result is not None and result.test_acc > 0.85


def test_the_library_loop_releases_the_gil():
    (x_train, t_train), (x_test, t_test) = load_digits()
    network = MultiLayerNetExtend(64, [300, 300], 10, seed=3)
    ticks = []
    done = threading.Event()

    def count():
        while not done.is_set():
            ticks.append(1)
            done.wait(0.001)

    thread = threading.Thread(target=count)
    thread.start()
    trainer = Trainer(network, x_train, t_train, x_test, t_test, epochs=30, verbose=False)
    result = trainer.train()
    done.set()
    thread.join()
    assert result is not None and result.seconds > 0.2
    # the other thread ran throughout (about one tick per millisecond)
    assert len(ticks) > 0.3 * result.seconds * 1000, (len(ticks), result.seconds)


def test_ctrl_c_stops_the_library_loop_with_keyboard_interrupt():
    code = textwrap.dedent(
        """
        import os, signal, threading, time
        import numpy as np
        from backprop.dataset.mnist import load_digits
        from backprop.multi_layer_net import MultiLayerNet
        from backprop.trainer import Trainer
        (x, t), (xs, ts) = load_digits()
        net = MultiLayerNet(64, [500, 500], 10, seed=0)
        before = net.params["W1"].copy()
        tr = Trainer(net, x, t, xs, ts, epochs=100000, verbose=False)
        threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        start = time.time()
        try:
            tr.train()
            print("finished")
        except KeyboardInterrupt:
            print("interrupted after", round(time.time() - start, 1), "s")
        print("changed", not np.array_equal(before, net.params["W1"]))
        """
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "interrupted after" in r.stdout and "changed True" in r.stdout, r.stdout
    seconds = float(r.stdout.split("interrupted after")[1].split()[0])
    assert seconds < 10
