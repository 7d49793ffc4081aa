"""backprop.tune: training runs as Ray Tune trials and the book's §6.5 search on Ray.

The search's results are compared with the output of the command line's ``backprop experiment
hyperparams`` (the release binary, run here), line for line: the same trials, the same
accuracies, whether Ray runs them one or two at a time, in one process or on two simulated
nodes. A trial whose worker dies mid-way resumes from its last checkpoint and ends with the
same checkpoint bytes as an uninterrupted one. ASHA stops poor trials early.

Ray is the ``tune`` extra; under BACKPROP_REQUIRE_PYTHON=1 (CI) its absence fails these tests.
"""

import json
import os
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

import backprop.tune as bt
from backprop import _core

REPO = pathlib.Path(__file__).resolve().parents[2]
REQUIRED = os.environ.get("BACKPROP_REQUIRE_PYTHON") == "1"

try:
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
except ImportError:
    if REQUIRED:
        raise
    ray = None

needs_ray = pytest.mark.skipif(ray is None, reason='ray[tune] is not installed: pip install "./python[tune]"')

# A short search: 8 trials of 5 evaluations on the embedded digits.
SEARCH = {"trials": 8, "epochs": 5, "seed": 7}


def _cli():
    """The release command line, built if needed (CI has built it already)."""
    given = os.environ.get("BACKPROP_CLI")
    if given:
        return given
    cargo = shutil.which("cargo")
    if cargo is None:
        if REQUIRED:
            raise RuntimeError("cargo is needed to build the backprop command for test_tune")
        pytest.skip("cargo is not available to build the backprop command")
    subprocess.run([cargo, "build", "--release", "--locked", "--quiet", "--bin", "backprop"],
                   cwd=REPO, check=True)
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return str(target / "release" / "backprop")


@pytest.fixture(scope="module")
def cli_lines():
    out = subprocess.run(
        [_cli(), "experiment", "hyperparams", "--trials", str(SEARCH["trials"]),
         "--epochs", str(SEARCH["epochs"]), "--seed", str(SEARCH["seed"])],
        check=True, capture_output=True, text=True).stdout
    lines = [line for line in out.splitlines() if line]
    # 8 trial lines, the header, 8 ranking lines.
    assert len(lines) == 17, out
    assert lines[8] == "=========== Hyper-Parameter Optimization Result ==========="
    return lines


@pytest.fixture
def local_ray():
    if ray.is_initialized():
        ray.shutdown()
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _parse(line):
    """``val acc:0.25 | lr:…, weight decay:…`` -> (lr, weight decay, val acc) as written."""
    head, rest = line.split(" | lr:")
    lr, wd = rest.split(", weight decay:")
    return lr, wd, head.split("val acc:")[1].rstrip(")")


# --- the configuration space ----------------------------------------------------------------

def test_a_config_becomes_the_run_specification():
    spec = bt.run_spec({"lr": 0.01, "hidden": [20, 10], "batch_norm": True, "dropout": 0.1,
                        "optimizer": "adam", "epochs": 3, "seed": 5, "batch_size": 32})
    assert spec["arch"] == {"name": "multi-layer", "hidden": [20, 10], "activation": "relu",
                            "init": "he", "batch_norm": True, "dropout": 0.1,
                            "weight_decay": 0.0}
    assert spec["optimizer"] == {"name": "adam", "lr": 0.01, "momentum": None, "beta1": None,
                                 "beta2": None, "decay_rate": None}
    assert spec["schedule"]["epochs"] == 3 and spec["schedule"]["iters"] is None
    assert spec["schedule"]["batch_size"] == 32
    # Hyperparameters are chosen on a validation split, not on the test set.
    assert spec["data"] == {"dataset": "digits", "dir": None, "seed": 5,
                            "validation": {"samples": None, "fraction": 0.2, "seed": 5}}
    plain = bt.run_spec({"validation": None})
    assert "validation" not in plain["data"] and plain["arch"]["name"] == "two-layer"
    with pytest.raises(ValueError, match="'lerning_rate'"):
        bt.run_spec({"lerning_rate": 0.1})
    with pytest.raises(ValueError, match="weight_decay.*two-layer"):
        bt.run_spec({"arch": "two-layer", "weight_decay": 1e-4})


def test_train_run_reports_every_evaluation_with_its_checkpoint(tmp_path):
    spec = bt.run_spec({"hidden": [32], "epochs": 3, "lr": 0.1, "seed": 1})
    seen = []

    def report(metrics, path):
        # The checkpoint of this evaluation is on disk: a model file of the step reported.
        assert os.path.basename(path) == f"step-{metrics['iter']:08}.safetensors"
        seen.append(dict(metrics, net=_core.Net.load(path, dtype="float32")))

    out = _core.train_run(json.dumps(spec), str(tmp_path / "c"), None, report)
    # 1438 training digits less 20 % held out: 1151, 12 steps of 100 per epoch.
    assert [m["iter"] for m in seen] == [12, 24, 36]
    assert [m["epoch"] for m in seen] == [1, 2, 3]
    assert out["val_acc"] == seen[-1]["val_acc"] and out["iters"] == 36
    assert seen[-1]["val_acc"] > 0.5
    assert set(seen[0]) == {"epoch", "iter", "train_loss", "train_acc", "val_acc", "val_loss",
                            "net"}
    # The validation loss is the mean softmax cross-entropy (the book's, with its 1e-7 guard,
    # without the weight-decay term) of the checkpoint's scores on the held-out samples,
    # computed here in NumPy (float64) from `predict`; its accuracy counts their argmax.
    _, (x_val, t_val) = bt.run_data({"hidden": [32], "epochs": 3, "lr": 0.1, "seed": 1})
    assert len(t_val) == 1438 - 1151
    for m in seen:
        y = np.asarray(m["net"].predict(x_val, False), dtype=np.float64)
        p = np.exp(y - y.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        want = -np.mean(np.log(p[np.arange(len(t_val)), t_val] + 1e-7))
        assert abs(m["val_loss"] - want) <= 1e-6 * want, (m["val_loss"], want)
        assert m["val_acc"] == np.mean(y.argmax(axis=1) == t_val)
    # Training lowers it here (lr 0.1, 36 steps): from near ln 10 towards the training loss.
    losses = [m["val_loss"] for m in seen]
    assert losses[0] > losses[1] > losses[2], losses
    # Without a validation split, the test set's accuracy is reported and no loss is measured.
    plain = []
    _core.train_run(json.dumps(bt.run_spec({"hidden": [32], "epochs": 1, "validation": None})),
                    str(tmp_path / "p"), None, lambda m, p: plain.append(m))
    assert set(plain[0]) == {"epoch", "iter", "train_loss", "train_acc", "test_acc"}

    # checkpoint_every=2: a checkpoint path at the 2nd evaluation and the last only; the
    # same run and the same metrics.
    sparse = []
    _core.train_run(json.dumps(spec), str(tmp_path / "s"), None,
                    lambda m, p: sparse.append((dict(m), p and os.path.basename(p))), 2)
    assert [p for _, p in sparse] == [None, "step-00000024.safetensors",
                                      "step-00000036.safetensors"]
    assert [m for m, _ in sparse] == [{k: v for k, v in m.items() if k != "net"} for m in seen]

    # An exception in the callback stops training and comes back out.
    def fail(metrics, path):
        raise KeyError("stop here")

    with pytest.raises(KeyError, match="stop here"):
        _core.train_run(json.dumps(spec), str(tmp_path / "d"), None, fail)
    # Training went on for one step at most after the first evaluation's report.
    steps = sorted(p.name for p in (tmp_path / "d").glob("step-*"))
    assert steps[0] == "step-00000012.safetensors" and len(steps) <= 2


# --- on Ray ---------------------------------------------------------------------------------

@needs_ray
def test_the_search_matches_the_command_with_one_and_two_workers(local_ray, cli_lines, tmp_path):
    losses = []
    for workers in (1, 2):
        result = bt.hyperparameter_search(**SEARCH, workers=workers, verbose=False,
                                          storage_path=tmp_path / f"w{workers}")
        assert result.lines == cli_lines, workers
        losses.append([t["val_loss"] for t in result.trials])
        assert all(len(v) == SEARCH["epochs"] for v in losses[-1])
        for t, line in zip(result.trials, cli_lines[:8]):
            lr, wd, acc = _parse(line)
            assert (repr(t["lr"]), repr(t["weight_decay"]), repr(t["val_acc"][-1])) == (lr, wd, acc)
            assert len(t["val_acc"]) == SEARCH["epochs"]
    # The validation losses, too, do not depend on how many workers ran the trials.
    assert losses[0] == losses[1]
    # Handing Tune a checkpoint only at the last of the 5 evaluations changes nothing.
    sparse = bt.hyperparameter_search(**SEARCH, workers=2, verbose=False, checkpoint_every=5,
                                      storage_path=tmp_path / "sparse")
    assert sparse.lines == cli_lines
    assert [t["val_loss"] for t in sparse.trials] == losses[0]
    assert cli_lines[9].startswith("Best-1(val acc:")


@needs_ray
def test_the_search_on_two_simulated_nodes_matches_the_command(cli_lines, tmp_path):
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    cluster = Cluster(initialize_head=True,
                      head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    try:
        ray.init(address=cluster.address, log_to_driver=False)

        def on_some_node(config):
            node = ray.get_runtime_context().get_node_id()

            def report(metrics, checkpoint):
                tune.report(dict(metrics, node=node), checkpoint=checkpoint)

            s = config["search"]
            rows = _core.hyperparams_trials(s["dataset"], s["data_dir"], s["seed"],
                                            config["trial"] + 1, s["epochs"], s["samples"],
                                            s["validation"], s["batch_size"])
            bt.train({"spec": rows[config["trial"]][4]}, report=report)

        result = bt.hyperparameter_search(**SEARCH, workers=2, verbose=False,
                                          storage_path=tmp_path, trial_fn=on_some_node)
        assert result.lines == cli_lines
        nodes = {r.metrics["node"] for r in result.results}
        assert len(nodes) == 2, nodes
    finally:
        ray.shutdown()
        cluster.shutdown()


def _dies_once(config):
    """Trains as ``trainable`` does, but the worker process dies right after the third report
    of the first attempt; Tune restarts the trial from the last checkpoint reported."""
    marker = pathlib.Path(config.pop("marker"))
    first = tune.get_checkpoint() is None
    reports = 0

    def report(metrics, checkpoint):
        nonlocal reports
        tune.report(metrics, checkpoint=checkpoint)
        reports += 1
        if first and reports == 3:
            marker.write_text("died")
            os._exit(1)

    if not first:
        with tune.get_checkpoint().as_directory() as d:
            marker.with_suffix(".resumed").write_text(sorted(os.listdir(d))[-1])
    bt.train(config, report=report)


@needs_ray
@pytest.mark.parametrize("every", [1, 2])
def test_a_trial_that_dies_resumes_to_the_same_weights(local_ray, tmp_path, every):
    config = {"hidden": [40, 20], "weight_decay": 1e-5, "lr": 0.05, "optimizer": "momentum",
              "epochs": 6, "seed": 11, "dropout": 0.1, "checkpoint_every": every}
    marker = tmp_path / "marker"

    def fit(fn, param_space, name):
        return tune.Tuner(
            tune.with_resources(fn, {"cpu": 1}),
            param_space=param_space,
            tune_config=tune.TuneConfig(metric="val_acc", mode="max"),
            run_config=tune.RunConfig(name=name, storage_path=str(tmp_path), verbose=0,
                                      failure_config=tune.FailureConfig(max_failures=1)),
        ).fit()[0]

    whole = fit(bt.trainable, config, "whole")
    broken = fit(_dies_once, dict(config, marker=str(marker)), "broken")
    assert whole.error is None and broken.error is None, (whole.error, broken.error)
    assert marker.read_text() == "died"
    # The second attempt started from the last checkpoint handed over (12 steps an epoch):
    # the third evaluation's, or with a checkpoint every 2nd evaluation the second's.
    resumed = "step-00000036.safetensors" if every == 1 else "step-00000024.safetensors"
    assert marker.with_suffix(".resumed").read_text() == resumed

    def final_bytes(result):
        with result.checkpoint.as_directory() as d:
            (name,) = os.listdir(d)
            return name, pathlib.Path(d, name).read_bytes()

    name, data = final_bytes(whole)
    assert name == "step-00000072.safetensors"
    assert final_bytes(broken) == (name, data)
    a = whole.metrics_dataframe
    # The evaluation after the checkpoint is reported again by the resumed attempt.
    b = broken.metrics_dataframe.drop_duplicates("iter", keep="last")
    assert list(a["iter"]) == list(b["iter"]) == [12, 24, 36, 48, 60, 72]
    assert list(a["val_acc"]) == list(b["val_acc"])
    assert list(a["train_loss"]) == list(b["train_loss"])
    assert list(a["val_loss"]) == list(b["val_loss"])


@needs_ray
def test_asha_stops_poor_trials_early(local_ray, tmp_path):
    asha = ASHAScheduler(max_t=8, grace_period=1, reduction_factor=2)
    result = bt.hyperparameter_search(trials=8, epochs=8, seed=3, workers=2, verbose=False,
                                      scheduler=asha, storage_path=tmp_path)
    lengths = sorted(len(t["val_acc"]) for t in result.trials)
    assert lengths[0] < 8 and lengths[-1] == 8, lengths
    # The ranking is still printed over all 8 trials.
    assert len(result.lines) == 17


@needs_ray
def test_asha_on_the_validation_loss_stops_the_slow_learners(local_ray, tmp_path):
    # Eight learning rates, largest first, so the good trials fill ASHA's rungs first; a
    # trial continues past a rung only with a val_loss in the better half seen there.
    rates = [0.3, 0.1, 0.03, 0.01, 0.003, 0.001, 3e-4, 1e-4]
    grid = tune.Tuner(
        tune.with_resources(bt.trainable, {"cpu": 1}),
        param_space={"lr": tune.grid_search(rates), "hidden": [32], "epochs": 8, "seed": 2},
        tune_config=tune.TuneConfig(
            metric="val_loss", mode="min", max_concurrent_trials=2,
            scheduler=ASHAScheduler(max_t=8, grace_period=1, reduction_factor=2)),
        run_config=tune.RunConfig(name="asha-loss", storage_path=str(tmp_path), verbose=0),
    ).fit()
    reports = {}
    for r in grid:
        assert r.error is None, r.error
        frame = r.metrics_dataframe
        reports[r.config["lr"]] = list(frame["val_loss"])
    assert sorted(reports) == sorted(rates)
    # lr 1e-4 hardly moves from ln 10 in its first epoch: stopped at the first rung; the
    # best rate ran all 8 evaluations, and minimising the loss picked a large rate.
    assert len(reports[1e-4]) < 8, reports[1e-4]
    assert reports[1e-4][0] > 2.0
    assert max(len(v) for v in reports.values()) == 8
    best = grid.get_best_result(metric="val_loss", mode="min", scope="last")
    assert best.config["lr"] >= 0.03, best.config
    assert best.metrics["val_loss"] == min(v[-1] for v in reports.values() if len(v) == 8)
