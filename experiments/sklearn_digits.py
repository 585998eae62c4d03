"""scikit-learn's ``MLPClassifier`` beside the digits sweep's confirmed winner: same split, same seeds.

Run it after the sweep (see ``experiments/README.md``), from the repository root::

    python -m nnexp +experiment=digits +sweep=digits
    python experiments/sklearn_digits.py

It reads the newest ``digits`` sweep, takes its confirmed winner (the parent's ``confirm.winner``
tag) and, for each of the winner's confirm runs, rebuilds that run's config from its recorded
overrides (``nnexp.config.compose.compose_config``) and its data with nnexp's own
:func:`nnexp.build.build_splits`: the same standardised train / validation / test arrays the
nnexp network trained on. ``MLPClassifier`` gets the winner's hidden widths, activation, Adam
with its learning rate, betas and epsilon, its batch size and epoch count, no L2 penalty
(``alpha=0``: nnexp's weight decay is 0 here), and ``random_state`` = the run's seed. What
differs, because scikit-learn does not offer it: the initialisation (scikit-learn draws Glorot
uniform, nnexp's digits config He uniform) and the random streams behind the initial weights and
the shuffling (the same seed number, not the same draws). Early stopping on the training loss is
switched off (``n_iter_no_change`` past ``max_iter``) so both train every epoch.

Each seed is logged as one MLflow run in the ``digits`` experiment, through nnexp's tracking
helpers, with the tags ``role=baseline``, ``model=sklearn.MLPClassifier``, ``baseline.of`` (the
sweep's parent run id), ``baseline.config`` (the winner's label) and ``seed``, and the metrics
``final_train_loss``, ``final_val_loss``, ``final_val_accuracy``, ``test_loss`` and
``test_accuracy``. ``python experiments/tables.py digits`` prints them beside the winner.
Running it again logs the seeds again (newest first wins in the tables).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import warnings
from typing import Any

BASELINE_TAGS = {"role": "baseline", "model": "sklearn.MLPClassifier"}
#: nnexp's Adam defaults (torch's), used when the config leaves ``betas`` / ``eps`` null
TORCH_ADAM_BETAS = [0.9, 0.999]
TORCH_ADAM_EPS = 1e-8


def winner_runs(reader: Any, parent: Any) -> tuple[str, list[Any]]:
    """The confirmed winner's label and its finished confirm runs, by seed."""
    from nnexp.errors import NnexpError

    winner = parent.tags.get("confirm.winner")
    if not winner or winner == "none":
        raise NnexpError(f"sweep {parent.run_id} has no confirmed winner (confirm.winner tag)")
    runs = [
        run
        for run in reader.children(parent)
        if run.status == "FINISHED"
        and run.kind == "confirm"
        and run.tags.get("confirm.config") == winner
    ]
    return winner, sorted(runs, key=lambda run: int(run.tags["confirm.seed"]))


def run_config(run: Any) -> Any:
    """The composed config of a recorded run, from its ``overrides`` tag."""
    from nnexp.config.compose import compose_config

    overrides = [o for o in shlex.split(run.tags["overrides"]) if not o.startswith("+sweep=")]
    # the data seed the run used (the sweep's base seed), whether or not its overrides say it
    data_seed = [f"data.seed={run.params['data.seed']}"] if "data.seed" in run.params else []
    return compose_config([*overrides, *data_seed, "tracking=off"])


def classifier(cfg: Any) -> Any:
    """``MLPClassifier`` set up like the nnexp run ``cfg`` as far as scikit-learn allows."""
    from sklearn.neural_network import MLPClassifier

    opt = cfg.optimizer
    if opt.name != "adam" or cfg.trainer.batch_size is None:
        raise ValueError(f"expected Adam with mini-batches, got {opt.name}")
    epochs = int(cfg.trainer.epochs)
    betas = list(opt.betas) if opt.betas is not None else TORCH_ADAM_BETAS
    return MLPClassifier(
        hidden_layer_sizes=tuple(int(w) for w in cfg.model.hidden_sizes),
        activation=str(cfg.model.activation),
        solver="adam",
        alpha=float(opt.weight_decay),
        batch_size=int(cfg.trainer.batch_size),
        learning_rate_init=float(opt.lr),
        beta_1=float(betas[0]),
        beta_2=float(betas[1]),
        epsilon=float(TORCH_ADAM_EPS if opt.eps is None else opt.eps),
        max_iter=epochs,
        shuffle=bool(cfg.trainer.shuffle),
        tol=0.0,
        n_iter_no_change=epochs + 1,
        random_state=int(cfg.seed),
    )


def fit_and_score(cfg: Any) -> tuple[dict[str, float], dict[str, Any]]:
    """Train on the run's train split; the metrics of every split and the classifier's params."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import log_loss

    from nnexp.build import build_splits

    _, splits = build_splits(cfg.data, cfg.seed)
    model = classifier(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is the epoch budget
        model.fit(splits.train.X, splits.train.y)
    metrics: dict[str, float] = {"epochs_run": float(model.n_iter_)}
    for name, split in (("train", splits.train), ("val", splits.val), ("test", splits.test)):
        proba = model.predict_proba(split.X)
        loss = float(log_loss(split.y, proba, labels=model.classes_))
        accuracy = float((model.classes_[proba.argmax(axis=1)] == split.y).mean())
        prefix = "test_" if name == "test" else f"final_{name}_"
        metrics[f"{prefix}loss"], metrics[f"{prefix}accuracy"] = loss, accuracy
    params = {f"sklearn.{k}": v for k, v in sorted(model.get_params().items())}
    return metrics, params


def log_baseline(store: Any, cfg: Any, metrics: dict, params: dict, tags: dict) -> str:
    from nnexp.tracking.recorder import RunRecorder

    name = f"sklearn-mlp-digits-s{cfg.seed}"
    with RunRecorder(store, run_name=name, tags=tags, activate=False) as recorder:
        recorder.log_params({**params, "seed": cfg.seed, "data.seed": cfg.data.seed})
        recorder.log_metrics(metrics)
    return recorder.run_id


def main(argv: list[str] | None = None) -> int:
    from tables import newest_parent  # experiments/ is this script's folder

    from nnexp.commands.common import default_tracking_uri, open_reader, short_id
    from nnexp.errors import NnexpError
    from nnexp.tracking.store import open_store

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracking-uri", default=default_tracking_uri(), metavar="URI")
    opts = parser.parse_args(argv)
    try:
        reader = open_reader(opts.tracking_uri)
        parent = newest_parent(reader, "digits", "sweep", {})
        winner, runs = winner_runs(reader, parent)
        store = open_store(opts.tracking_uri, "digits", None)
        print(f"sweep {short_id(parent.run_id)}: confirmed winner {winner}, {len(runs)} seeds")
        for run in runs:
            cfg = run_config(run)
            metrics, params = fit_and_score(cfg)
            tags = {
                **BASELINE_TAGS,
                "baseline.of": parent.run_id,
                "baseline.config": winner,
                "seed": cfg.seed,
            }
            run_id = log_baseline(store, cfg, metrics, params, tags)
            print(
                f"seed {cfg.seed}: test_accuracy {metrics['test_accuracy']:.4f} "
                f"(nnexp {run.metrics.get('test_accuracy', float('nan')):.4f}), "
                f"MLflow run {short_id(run_id)}"
            )
    except NnexpError as exc:
        print(f"sklearn_digits: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
