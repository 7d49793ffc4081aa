"""Hyperparameter search on Ray Tune: any backprop training run as a Tune trainable, and the
book's §6.5 random search (``hyperparameter_optimization.py``) as one call.

Every trial trains in Rust (the library's ``run::Run``, the GIL released), reports after every
evaluation to Tune and hands Tune the backprop checkpoint written there, so that

- Tune's schedulers (ASHA, median stopping, …) stop poor trials early;
- a trial whose worker dies resumes from its last checkpoint and ends with the same weights as
  a trial never interrupted (checkpoints hold the weights, the optimizer's state, the batch
  generator and the history);
- a trial's result depends only on its configuration and seed, never on the worker, the node
  or how many trials run at once.

Ray is an optional extra: ``pip install "./python[tune]"``.

    from ray import tune
    from backprop.tune import trainable

    tuner = tune.Tuner(
        trainable,
        param_space={"lr": tune.loguniform(1e-4, 1e-1), "hidden": [100, 100],
                     "weight_decay": tune.loguniform(1e-8, 1e-4), "epochs": 20},
        tune_config=tune.TuneConfig(metric="val_loss", mode="min", num_samples=16,
                                    scheduler=tune.schedulers.ASHAScheduler()),
    )
    best = tuner.fit().get_best_result()

    from backprop.tune import hyperparameter_search
    hyperparameter_search(trials=100, dataset="digits", seed=42, workers=2)  # prints Best-k lines
"""

import glob
import json
import os
import shutil
import tempfile

from . import _core

__all__ = ["run_spec", "run_data", "train", "trainable", "hyperparameter_search", "SearchResult"]

# Config keys and where they go in the run specification (RunSpec's JSON).
_ARCH_KEYS = {"hidden", "activation", "init", "batch_norm", "dropout", "weight_decay",
              "weight_init_std", "filter_num", "filter_size", "pad", "stride"}
_MULTI_LAYER_ONLY = {"activation", "init", "batch_norm", "dropout", "weight_decay"}
_OPTIMIZER_KEYS = {"lr", "momentum", "beta1", "beta2", "decay_rate"}
_SCHEDULE_KEYS = {"epochs", "iters", "batch_size", "eval_every", "eval_samples", "sampling"}
_DATA_KEYS = {"dataset", "data_dir", "seed", "validation", "validation_samples", "data_seed"}
_OTHER_KEYS = {"spec", "arch", "optimizer", "precision"}
# Keys that only label a trial (the §6.5 search's "trial"), and how often a trial hands Tune
# a checkpoint (not part of the run: its results do not depend on it).
_LABEL_KEYS = {"trial", "name", "checkpoint_every"}
_KNOWN = _ARCH_KEYS | _OPTIMIZER_KEYS | _SCHEDULE_KEYS | _DATA_KEYS | _OTHER_KEYS | _LABEL_KEYS


def run_spec(config):
    """The run specification (a dict in the JSON form model files record as ``train_config``)
    that a Tune ``config`` describes.

    ``config`` holds the run specification's fields, flat: ``arch`` (``two-layer``,
    ``multi-layer``, ``simple-conv``, ``deep-conv``; ``multi-layer`` when a multi-layer key or
    a list of ``hidden`` sizes is given, else ``two-layer``), ``hidden`` (an int or a list),
    ``activation``, ``init``, ``batch_norm``, ``dropout``, ``weight_decay``,
    ``weight_init_std``; ``optimizer`` (``sgd``, ``momentum``, ``nesterov``, ``adagrad``,
    ``rmsprop``, ``adam``), ``lr``, ``momentum``, ``beta1``, ``beta2``, ``decay_rate``;
    ``epochs`` or ``iters``, ``batch_size``, ``eval_every``, ``eval_samples``, ``sampling``
    (``shuffle``, ``replacement``); ``dataset`` (``digits``, ``mnist``, ``fashion-mnist``),
    ``data_dir``, ``seed``, ``precision`` (``f32``, ``f64``). Unset fields take ``backprop
    train``'s defaults and the book's architecture settings.

    Validation: ``validation`` (default 0.2) is the share of the training set held out and
    evaluated on instead of the test set (reported as ``val_acc``); ``validation_samples``
    uses only the first that many training samples (the book's 500); ``data_seed`` (default:
    ``seed``) shuffles before the hold-out, so trials that differ in ``seed`` alone share
    their validation set when it is given. ``validation=None`` evaluates on the test set
    (reported as ``test_acc``).

    ``spec`` (a dict or JSON text of a whole run specification) is taken as the base instead
    of the defaults; the other keys change it. An unknown key is a ``ValueError``.
    """
    unknown = sorted(set(config) - _KNOWN)
    if unknown:
        raise ValueError(
            f"unknown config key(s) {', '.join(map(repr, unknown))}; expected run "
            f"specification fields: {', '.join(sorted(_KNOWN - _LABEL_KEYS))}"
        )
    base = config.get("spec")
    if base is None:
        spec = json.loads(_core.default_spec())
        spec["data"]["dataset"] = "digits"
        spec["data"]["validation"] = None
        given_validation = "validation" in config
    else:
        spec = json.loads(base) if isinstance(base, str) else json.loads(json.dumps(base))
        given_validation = True
    data = spec["data"]
    if "dataset" in config:
        data["dataset"] = config["dataset"]
    if "data_dir" in config:
        data["dir"] = None if config["data_dir"] is None else os.fspath(config["data_dir"])
    if "seed" in config:
        data["seed"] = int(config["seed"])
    if base is None or set(config) & {"validation", "validation_samples", "data_seed"}:
        old = data.get("validation") or {}
        share = config["validation"] if given_validation and "validation" in config else (
            old.get("fraction", 0.2) if base is not None else 0.2)
        if share is None or share == 0:
            data["validation"] = None
        else:
            data["validation"] = {
                "samples": config.get("validation_samples", old.get("samples")),
                "fraction": float(share),
                "seed": int(config.get("data_seed", old.get("seed", data["seed"]))),
            }
    if not data.get("validation"):
        data.pop("validation", None)

    arch = spec["arch"]
    name = config.get("arch")
    if name is None and base is None:
        multi = (set(config) & _MULTI_LAYER_ONLY) or isinstance(config.get("hidden"), (list, tuple))
        name = "multi-layer" if multi else "two-layer"
    if name is not None and name != arch.get("name"):
        arch = json.loads(_core.book_arch(name))
    for key in _ARCH_KEYS & set(config):
        value = config[key]
        if key not in arch and not (arch["name"] == "simple-conv" and key in
                                    {"filter_num", "filter_size", "pad", "stride"}):
            raise ValueError(f"config key {key!r} does not apply to the {arch['name']} architecture")
        if key == "hidden" and arch["name"] == "multi-layer":
            value = [int(value)] if isinstance(value, int) else [int(v) for v in value]
        arch[key] = value
    spec["arch"] = arch

    opt = spec["optimizer"]
    if "optimizer" in config:
        opt = {"name": config["optimizer"].lower(), "lr": None, "momentum": None, "beta1": None,
               "beta2": None, "decay_rate": None}
    for key in _OPTIMIZER_KEYS & set(config):
        opt[key] = None if config[key] is None else float(config[key])
    spec["optimizer"] = opt

    sched = spec["schedule"]
    if "epochs" in config:
        sched["epochs"], sched["iters"] = int(config["epochs"]), None
    if "iters" in config:
        sched["iters"], sched["epochs"] = int(config["iters"]), None
    for key in ("batch_size", "eval_every", "eval_samples", "sampling"):
        if key in config:
            sched[key] = config[key]
    if "precision" in config:
        spec["precision"] = config["precision"].upper()
    return spec


def run_data(config):
    """The arrays the run ``config`` describes (see :func:`run_spec`) trains and evaluates on:
    ``((x_train, t_train), (x_val, t_val))``, the validation part being what ``val_acc`` and
    ``val_loss`` measure (the test set when ``validation`` is ``None``). Images are scaled as
    the network takes them (flat, or ``(N, C, H, W)`` for the convolutional nets); labels
    are class numbers. For checking a trial's checkpoint against its reports."""
    return _core.run_data(json.dumps(run_spec(config)))


def _latest(directory):
    files = sorted(glob.glob(os.path.join(directory, "step-*.safetensors")))
    if not files:
        raise FileNotFoundError(f"{directory}: the Tune checkpoint holds no backprop checkpoint")
    return files[-1]


def _tune_report(metrics, checkpoint):
    from ray import tune

    tune.report(metrics, checkpoint=checkpoint)


def train(config, report=None, checkpoint_every=None):
    """Trains the run ``config`` describes (see :func:`run_spec`) inside a Tune trial: resumes
    from ``ray.tune.get_checkpoint()`` when Tune restores the trial, and after every evaluation
    calls ``report(metrics, checkpoint)`` (default ``ray.tune.report``) with the metrics
    (``epoch``, ``iter``, ``train_loss`` — the mean training loss of the steps since the
    previous evaluation —, ``train_acc``, and with a validation split ``val_acc`` and
    ``val_loss`` — the mean softmax cross-entropy over the validation set, measured in the
    same forward passes as its accuracy, without the weight-decay term so that trials with
    different weight decays compare by their predictions — else ``test_acc``) and a
    ``ray.tune.Checkpoint`` holding the backprop checkpoint of that evaluation (``backprop
    eval`` reads it as a model), or ``None`` between checkpoints: with ``checkpoint_every=k``
    (argument, or config key ``checkpoint_every``; default 1) only every k-th evaluation and
    the last carry one, which saves Tune persisting a checkpoint per report; a restored trial
    then resumes from the last one handed over and repeats the evaluations after it (with the
    same results). Returns what the library's run returned (final accuracies, steps, the
    resolved spec)."""
    from ray import tune

    report = report or _tune_report
    if checkpoint_every is None:
        checkpoint_every = config.get("checkpoint_every", 1)
    if int(checkpoint_every) < 1:
        raise ValueError(f"checkpoint_every must be at least 1, got {checkpoint_every!r}")
    spec = json.dumps(run_spec(config))
    restored = tune.get_checkpoint()
    with tempfile.TemporaryDirectory(prefix="backprop-trial-") as work:
        resume = None
        if restored is not None:
            with restored.as_directory() as d:
                source = _latest(d)
                resume = os.path.join(work, os.path.basename(source))
                shutil.copyfile(source, resume)

        def deliver(metrics, path):
            if path is None:
                report(metrics, None)
                return
            # Tune copies the directory into its storage before report returns.
            with tempfile.TemporaryDirectory(prefix="backprop-checkpoint-") as d:
                shutil.copyfile(path, os.path.join(d, os.path.basename(path)))
                report(metrics, tune.Checkpoint.from_directory(d))

        return _core.train_run(spec, os.path.join(work, "checkpoints"), resume, deliver,
                               int(checkpoint_every))


def trainable(config):
    """The Ray Tune function trainable: ``tune.Tuner(backprop.tune.trainable, param_space=…)``.
    See :func:`run_spec` for the config keys and :func:`train` for what it reports."""
    train(config)


class SearchResult:
    """The outcome of :func:`hyperparameter_search`: ``lines`` (what it printed, as
    ``backprop experiment hyperparams`` prints them), ``trials`` (per trial, in trial order:
    ``trial``, ``lr``, ``weight_decay``, ``seed``, ``val_acc``, ``val_loss`` and ``train_acc``
    per evaluation), ``best`` (the ranking's top 20 as dicts) and ``results`` (Tune's
    ``ResultGrid``)."""

    def __init__(self, lines, trials, summary, results):
        self.lines = lines
        self.trials = trials
        self.best = summary["best"]
        self.json = summary
        self.results = results

    def __repr__(self):
        best = self.best[0] if self.best else None
        return (f"<backprop search: {len(self.trials)} trials, best val acc "
                f"{best and best['val_acc']} (lr {best and best['lr']}, "
                f"weight decay {best and best['weight_decay']})>")


def _search_trial(config):
    """One trial of the §6.5 search, rebuilt on the worker from the search's settings and
    the trial's number by the same library function ``backprop experiment hyperparams``
    uses."""
    s = config["search"]
    rows = _core.hyperparams_trials(s["dataset"], s["data_dir"], s["seed"], config["trial"] + 1,
                                    s["epochs"], s["samples"], s["validation"], s["batch_size"])
    k, lr, weight_decay, seed, spec = rows[config["trial"]]
    from ray import tune

    def report(metrics, checkpoint):
        metrics = dict(metrics, trial=k, lr=lr, weight_decay=weight_decay, seed=seed)
        tune.report(metrics, checkpoint=checkpoint)

    train({"spec": spec}, report=report, checkpoint_every=s.get("checkpoint_every", 1))


def hyperparameter_search(trials=100, dataset="digits", seed=42, workers=None, epochs=50,
                          samples=500, validation=0.2, batch_size=100, data_dir=None,
                          scheduler=None, storage_path=None, plot=None, verbose=True,
                          max_failures=0, trial_fn=None, checkpoint_every=1):
    """The book's §6.5 random search on Ray Tune, as ``backprop experiment hyperparams``
    runs it: ``trials`` trials, each drawing ``lr = 10^U(−6, −2)`` and ``weight decay =
    10^U(−8, −4)``, training the book's 6 × 100 ReLU network with SGD for ``epochs`` epochs
    on 80 % of the first ``samples`` training samples (shuffled by ``seed``) and validating
    on the other 20 %. Trial ``k`` of a search with seed ``s`` is the same run wherever it
    runs, so the results equal the command's with the same ``--seed``, ``--trials``,
    ``--epochs`` and ``--samples``.

    Prints (``verbose``) and returns the command's lines: ``val acc:… | lr:…, weight
    decay:…`` per trial in trial order, then ``Best-k(val acc:…) | lr:…, weight decay:…``.
    ``workers`` trials run at once (default: as many as Ray has CPUs); when Ray is not yet
    initialised, a local instance is started with ``workers`` CPUs (no dashboard, no usage
    statistics); to use a cluster call ``ray.init(address=…)`` first. ``scheduler`` (e.g.
    ``ASHAScheduler()``) may stop trials early on ``val_acc``; a stopped trial ranks by its
    last validation accuracy. ``plot`` writes the figure of the best trials (PNG or SVG).
    ``max_failures`` retries a failed trial from its last checkpoint; ``checkpoint_every=k``
    hands Tune a checkpoint at every k-th evaluation only (and the last), which saves Tune's
    per-checkpoint work on short trials and changes no result;
    ``trial_fn`` replaces the per-trial function (tests inject failures with it)."""
    import ray
    from ray import tune

    settings = {"dataset": dataset, "data_dir": None if data_dir is None else os.fspath(data_dir),
                "seed": int(seed), "epochs": int(epochs), "samples": int(samples),
                "validation": float(validation), "batch_size": int(batch_size),
                "checkpoint_every": int(checkpoint_every)}
    args = (settings["dataset"], settings["data_dir"], settings["seed"], int(trials),
            settings["epochs"], settings["samples"], settings["validation"],
            settings["batch_size"])
    configs = _core.hyperparams_trials(*args)  # checks the sizes before Ray starts
    if not ray.is_initialized():
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    fn = tune.with_resources(trial_fn or _search_trial, {"cpu": 1})
    tuner = tune.Tuner(
        fn,
        param_space={"trial": tune.grid_search([c[0] for c in configs]), "search": settings},
        tune_config=tune.TuneConfig(metric="val_acc", mode="max", scheduler=scheduler,
                                    max_concurrent_trials=workers),
        run_config=tune.RunConfig(
            name=f"backprop-hyperparams-{settings['seed']}",
            storage_path=None if storage_path is None else os.path.abspath(storage_path),
            failure_config=tune.FailureConfig(max_failures=max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
            verbose=0,
        ),
    )
    grid = tuner.fit()
    found, losses = {}, {}
    for result in grid:
        if result.error is not None:
            raise RuntimeError(f"a trial of the search failed: {result.error}") from result.error
        # A restored trial repeats the evaluations after its last checkpoint: keep each once.
        frame = result.metrics_dataframe.drop_duplicates("iter", keep="last")
        k = int(result.config["trial"])
        found[k] = (k, [float(v) for v in frame["val_acc"]], [float(v) for v in frame["train_acc"]])
        losses[k] = [float(v) for v in frame["val_loss"]]
    results = [found[k] for k in sorted(found)]
    lines, summary = _core.hyperparams_ranking(
        *args, results, None if plot is None else os.fspath(plot))
    if verbose:
        for line in lines:
            print(line)
    trials_out = [
        {"trial": c[0], "lr": c[1], "weight_decay": c[2], "seed": c[3],
         "val_acc": found[c[0]][1], "val_loss": losses[c[0]], "train_acc": found[c[0]][2]}
        for c in configs
    ]
    return SearchResult(lines, trials_out, json.loads(summary), grid)
