"""Print the tables of ``experiments/README.md`` from the MLflow record, as mean ± 95% CI.

Run the experiment's commands first (see the README), then, from the repository root::

    python experiments/tables.py learning_rate       # that experiment's tables
    python experiments/tables.py                     # every experiment's

Each table is read from the newest multirun parent (for ``digits``: the newest sweep parent and
the scikit-learn baseline runs logged by ``experiments/sklearn_digits.py``) of the MLflow
experiment of the same name. The runs of a multirun are grouped by the params they differ in,
``seed`` left out, so each row is one setting repeated over seeds. A cell is ``mean ± h``: ``h``
is the half-width of the two-sided 95% Student-t interval over the seeds (:func:`nnexp.stats.
summarize`, sample standard deviation with ddof=1); the table's title gives the seed count, and a
cell computed over fewer runs than its row has says so (``(3 of 5)``). A tally cell counts runs
(``good 4/5, underfit 1/5``). The output is Markdown, the README's tables are pasted from it.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

MISSING = "-"
#: a column's value of one run: ``(reader, run) -> float or None`` (None: the run has none)
Value = Callable[[Any, Any], float | None]
#: a tally column's label of one run: ``(reader, run) -> str``
Label = Callable[[Any, Any], str]


@dataclass(frozen=True)
class Stat:
    """A column of mean ± 95% CI half-width over the runs of a row."""

    header: str
    value: Value
    #: what a row where no run has a value shows (e.g. ``never`` for "first epoch with ...")
    empty: str = "-"


@dataclass(frozen=True)
class Tally:
    """A column counting the runs of a row by a label: ``good 4/5, underfit 1/5``."""

    header: str
    label: Label


@dataclass(frozen=True)
class Count:
    """A column counting the runs of a row for which ``test`` holds: ``3/5``."""

    header: str
    test: Callable[[Any, Any], bool]


@dataclass(frozen=True)
class Table:
    """One README table: which parent run it reads and its columns."""

    title: str
    experiment: str
    columns: Sequence[Stat | Tally | Count]
    kind: str = "multirun"
    #: params every child of the parent must have (tells two multiruns of one experiment apart)
    where: dict[str, str] = field(default_factory=dict)
    #: also print these metrics of every seed, one column per seed (for stories told per seed)
    per_seed: tuple[str, ...] = ()


# --- values of one run ---------------------------------------------------------------------


def metric(name: str) -> Value:
    return lambda reader, run: run.metrics.get(name)


def history(reader: Any, run: Any, key: str) -> list[float]:
    """The run's per-epoch values of ``key`` (epoch 0, the initial evaluation, left out)."""
    return [value for step, value in reader.metric_history(run.run_id, key) if step > 0]


def rising_epochs(reader: Any, run: Any) -> float:
    """How many epochs ended with a higher train loss than the epoch before."""
    losses = history(reader, run, "train_loss")
    return float(sum(b > a for a, b in itertools.pairwise(losses)))


def first_epoch_at(key: str, threshold: float) -> Value:
    """The first epoch whose ``key`` reaches ``threshold`` (None if none does)."""

    def value(reader: Any, run: Any) -> float | None:
        points = sorted(reader.metric_history(run.run_id, key))
        return next((float(step) for step, v in points if step > 0 and v >= threshold), None)

    return value


def gradient_ratio(reader: Any, run: Any) -> float | None:
    """Layer 1's gradient norm over the last layer's, each averaged over the last half of the
    logged epochs (the ratio nnexp's "vanishing gradients" cause reads)."""
    layers = sorted(
        int(key[5:].split("/")[0])
        for key in run.metrics
        if key.startswith("layer") and key.endswith("/grad_norm")
    )
    if len(layers) < 2:
        return None
    means = []
    for layer in (layers[0], layers[-1]):
        values = history(reader, run, f"layer{layer}/grad_norm")
        tail = values[len(values) // 2 :]
        means.append(sum(tail) / len(tail))
    return means[0] / means[1]


def diagnosis(reader: Any, run: Any) -> str:
    return run.tags.get("diagnosis", "-")


def cause_named(word: str) -> Callable[[Any, Any], bool]:
    """Whether the run's diagnosis names a cause containing ``word``."""
    return lambda reader, run: word in run.tags.get("diagnosis.causes", "")


def solved(reader: Any, run: Any) -> bool:
    return run.metrics.get("final_train_accuracy") == 1.0


# --- formatting ----------------------------------------------------------------------------


def format_ci(summary: Any) -> str:
    """``0.9650 ± 0.0043``: the half-width to 2 significant digits, the mean to the same place."""
    if summary.n == 0:
        return "-"
    if summary.n == 1:
        return f"{summary.mean:.3g}"
    half = summary.half_width
    if abs(summary.mean) >= 1e4 or half >= 1e4:
        return f"{summary.mean:.2e} ± {half:.1e}"
    if half == 0:  # every seed gave the same value: a count, or an accuracy on a small set
        mean = summary.mean
        return f"{mean:.0f} ± 0" if mean == round(mean) else f"{mean:.3f} ± 0"
    decimals = min(6, max(0, 1 - math.floor(math.log10(half))))
    return f"{summary.mean:.{decimals}f} ± {half:.{decimals}f}"


def stat_cell(values: Sequence[float | None], empty: str = "-") -> str:
    """Mean ± CI half-width of the values that exist, saying how many when some are missing."""
    from nnexp.stats import summarize

    present = [v for v in values if v is not None and math.isfinite(v)]
    if not present:
        return empty
    text = format_ci(summarize(present))
    if len(present) < len(values):
        text += f" ({len(present)} of {len(values)})"
    return text


def tally_cell(labels: Sequence[str]) -> str:
    """``good 4/5, underfit 1/5``: most frequent first."""
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    order = sorted(counts, key=lambda label: -counts[label])
    return ", ".join(f"{label} {counts[label]}/{len(labels)}" for label in order)


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


# --- reading the record --------------------------------------------------------------------


def newest_parent(reader: Any, experiment: str, kind: str, where: dict[str, str]) -> Any:
    """The newest ``kind`` parent of ``experiment`` whose finished children all match ``where``."""
    from nnexp.errors import NnexpError

    for run in reader.search([reader.experiment_id(experiment)]):  # newest first
        if run.kind != kind:
            continue
        runs = finished_children(reader, run)
        if runs and all(r.params.get(k) == v for r in runs for k, v in where.items()):
            return run
    wanted = f" with {where}" if where else ""
    raise NnexpError(
        f"no {kind} run{wanted} in experiment {experiment!r}: run the README's commands first"
    )


def finished_children(reader: Any, parent: Any) -> list[Any]:
    runs = [run for run in reader.children(parent) if run.status == "FINISHED"]
    return sorted(runs, key=lambda run: run.start_time)


def _sort_key(value: str) -> tuple[int, float, str]:
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


def shown(value: str) -> str:
    """A param value as typed: ``3.0`` (Hydra's float of ``3``) as ``3``."""
    return value[:-2] if value.endswith(".0") and value[:-2].lstrip("-").isdigit() else value


def seed_groups(runs: Sequence[Any]) -> tuple[list[str], list[tuple[tuple[str, ...], list[Any]]]]:
    """The params the runs differ in (``seed`` aside) and the runs grouped by their values.

    Groups are ordered by their values, numerically where the values are numbers; a width like
    ``[12]`` sorts by its number too.
    """
    from nnexp.commands.common import differing_params

    keys = [key for key in differing_params(runs) if key != "seed"]
    groups: dict[tuple[str, ...], list[Any]] = {}
    for run in runs:
        groups.setdefault(tuple(run.params.get(key, "-") for key in keys), []).append(run)
    order = sorted(groups, key=lambda values: [_sort_key(v.strip("[]")) for v in values])
    return keys, [(values, groups[values]) for values in order]


def seed_count(groups: Sequence[tuple[Any, list[Any]]]) -> str:
    """``5``, or ``4 to 5`` when some setting has fewer finished runs."""
    counts = sorted({len(runs) for _, runs in groups})
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]} to {counts[-1]}"


def table_lines(reader: Any, table: Table) -> list[str]:
    """The title and Markdown rows of ``table`` read from the record."""
    from nnexp.commands.common import short_id, short_names

    parent = newest_parent(reader, table.experiment, table.kind, table.where)
    keys, groups = seed_groups(finished_children(reader, parent))
    names = short_names(keys)
    header = [names[key] for key in keys] + [column.header for column in table.columns]
    rows = []
    for values, runs in groups:
        row = [shown(value) for value in values]
        for column in table.columns:
            if isinstance(column, Stat):
                row.append(stat_cell([column.value(reader, run) for run in runs], column.empty))
            elif isinstance(column, Count):
                row.append(f"{sum(bool(column.test(reader, run)) for run in runs)}/{len(runs)}")
            else:
                row.append(tally_cell([column.label(reader, run) for run in runs]))
        rows.append(row)
    title = (
        f"{table.title}: {table.kind} {short_id(parent.run_id)}, "
        f"mean ± 95% CI half-width (Student t) over {seed_count(groups)} seeds"
    )
    lines = [title, "", *markdown(header, rows)]
    for key in table.per_seed:
        lines += ["", *per_seed_lines(keys, names, groups, key)]
    return lines


def per_seed_lines(keys: list[str], names: dict[str, str], groups: Sequence, key: str) -> list[str]:
    """``key`` of every run, one row per setting, one column per seed (one run each: no CI)."""
    seeds = sorted({int(run.params["seed"]) for _, runs in groups for run in runs})
    rows = []
    for values, runs in groups:
        by = {int(run.params["seed"]): run.metrics.get(key) for run in runs}
        cells = [MISSING if by.get(s) is None else f"{by[s]:.3g}" for s in seeds]
        rows.append([*(shown(value) for value in values), *cells])
    header = [names[k] for k in keys] + [f"seed {s}" for s in seeds]
    return [f"{key} of each seed (one run each)", "", *markdown(header, rows)]


# --- the README's tables -------------------------------------------------------------------

DIAGNOSIS = Tally("diagnosis", diagnosis)
TRAIN_LOSS = Stat("final train loss", metric("final_train_loss"))
VAL_LOSS = Stat("final val loss", metric("final_val_loss"))
BEST_VAL = Stat("best val loss (any epoch)", metric("best_val_loss"))
TEST_ACC = Stat("test accuracy", metric("test_accuracy"))
TEST_LOSS = Stat("test loss", metric("test_loss"))
FIRST_09 = Stat(
    "first epoch with train accuracy >= 0.9", first_epoch_at("train_accuracy", 0.9), "never"
)

TABLES: dict[str, list[Table]] = {
    "seed_xor": [
        Table(
            "seed_xor",
            "seed_xor",
            [
                Count("seeds solving XOR (train accuracy 1.0)", solved),
                Stat("final train accuracy", metric("final_train_accuracy")),
                Stat("final MSE", metric("final_train_loss")),
                DIAGNOSIS,
            ],
            per_seed=("final_train_loss", "final_train_accuracy"),
        )
    ],
    "capacity": [
        Table("capacity", "capacity", [TRAIN_LOSS, VAL_LOSS, BEST_VAL, TEST_ACC, DIAGNOSIS])
    ],
    "learning_rate": [
        Table(
            "learning_rate",
            "learning_rate",
            [
                TRAIN_LOSS,
                VAL_LOSS,
                TEST_ACC,
                Stat("epochs with a rising train loss", rising_epochs),
                Stat("epochs run", metric("epochs_run")),
                DIAGNOSIS,
            ],
            per_seed=("epochs_run",),
        )
    ],
    "regularization": [
        Table(
            "regularization",
            "regularization",
            [TRAIN_LOSS, VAL_LOSS, BEST_VAL, TEST_LOSS, TEST_ACC, DIAGNOSIS],
        )
    ],
    "activations": [
        Table(
            "activations (SGD)",
            "activations",
            [
                TRAIN_LOSS,
                VAL_LOSS,
                FIRST_09,
                TEST_ACC,
                DIAGNOSIS,
                Count("vanishing gradients named", cause_named("vanishing")),
                Stat("layer 1 / layer 6 gradient norm (last 50% of epochs)", gradient_ratio),
            ],
            where={"optimizer.name": "sgd"},
        ),
        Table(
            "activations (Adam)",
            "activations",
            [
                TRAIN_LOSS,
                VAL_LOSS,
                FIRST_09,
                TEST_ACC,
                DIAGNOSIS,
                Count("vanishing gradients named", cause_named("vanishing")),
            ],
            where={"optimizer.name": "adam"},
        ),
    ],
    "dead_relu": [
        Table(
            "dead_relu",
            "dead_relu",
            [
                TRAIN_LOSS,
                VAL_LOSS,
                Stat("dead units, layer 1 (last epoch)", metric("layer1/dead_fraction")),
                Stat("dead units, layer 2 (last epoch)", metric("layer2/dead_fraction")),
                Stat("final val accuracy", metric("final_val_accuracy")),
                DIAGNOSIS,
                Count("dead units named", cause_named("dead units")),
            ],
            per_seed=("final_train_loss",),
        )
    ],
}
NAMES = (*TABLES, "digits")


# --- digits: the sweep, its confirm phase and the scikit-learn baseline --------------------


def digits_record(reader: Any) -> dict[str, Any]:
    """The newest digits sweep: its parent, trials, confirm runs by configuration label, the
    winner's label and the scikit-learn baseline runs logged for it (newest per seed)."""
    parent = newest_parent(reader, "digits", "sweep", {})
    runs = finished_children(reader, parent)
    confirm: dict[str, list[Any]] = {}
    for run in runs:
        if run.kind == "confirm":
            confirm.setdefault(run.tags["confirm.config"], []).append(run)
    baseline: dict[str, Any] = {}
    for run in reader.search([parent.experiment_id]):  # newest first
        if (
            run.status == "FINISHED"
            and run.tags.get("role") == "baseline"
            and run.tags.get("baseline.of") == parent.run_id
        ):
            baseline.setdefault(run.tags["seed"], run)
    return {
        "parent": parent,
        "trials": [run for run in runs if run.kind == "trial"],
        "confirm": confirm,
        "winner": parent.tags.get("confirm.winner"),
        "baseline": [baseline[seed] for seed in sorted(baseline, key=int)],
    }


def confirmed_groups(record: dict[str, Any]) -> dict[str, list[Any]]:
    """``{label: runs}``: the winner, the other confirmed configurations by mean validation
    loss, then the scikit-learn baseline (if logged)."""
    from nnexp.stats import summarize

    def key(item: tuple[str, list[Any]]) -> tuple[bool, float]:
        label, runs = item
        mean = summarize([run.metrics.get("final_val_loss", math.nan) for run in runs]).mean
        return (label != record["winner"], mean if math.isfinite(mean) else math.inf)

    groups = dict(sorted(record["confirm"].items(), key=key))
    if record["baseline"]:
        groups["sklearn MLPClassifier"] = record["baseline"]
    return groups


def by_seed(runs: Sequence[Any], key: str) -> dict[int, float]:
    return {
        int(run.params.get("seed", run.tags.get("seed"))): run.metrics[key]
        for run in runs
        if key in run.metrics
    }


def paired_cells(a: dict[int, float], b: dict[int, float]) -> list[str]:
    """Mean difference ``a - b`` ± its 95% CI half-width over the shared seeds, the paired
    t-test's p-value, and the seed count."""
    from nnexp.stats import paired_t_test, summarize

    seeds = sorted(set(a) & set(b))
    diffs = [a[s] - b[s] for s in seeds]
    test = paired_t_test([a[s] for s in seeds], [b[s] for s in seeds])
    p = "-" if test is None else f"{test.p_value:.2g}"
    return [format_ci(summarize(diffs)), p, str(len(seeds))]


def digits_lines(reader: Any) -> list[str]:
    from nnexp.commands.common import short_id

    record = digits_record(reader)
    parent, winner = record["parent"], record["winner"]
    lines = [f"digits: sweep {short_id(parent.run_id)}, confirmed winner {winner}", ""]
    trials = sorted(record["trials"], key=lambda run: run.metrics.get("final_val_loss", math.inf))
    rows = [
        [
            run.tags.get("trial_number", run.tags.get("optuna.trial_number", "-")),
            run.params.get("model.hidden_sizes", "-"),
            f"{float(run.params['optimizer.lr']):.3g}",
            f"{run.metrics.get('final_val_loss', math.nan):.3g}",
            f"{run.metrics.get('test_accuracy', math.nan):.3f}",
            run.tags.get("diagnosis", "-"),
        ]
        for run in trials
    ]
    lines += ["the search: one run per trial (seed 0), no interval", ""]
    lines += markdown(
        ["trial", "width", "lr", "final val loss", "test accuracy", "diagnosis"], rows
    )
    groups = confirmed_groups(record)
    rows = []
    for label, runs in groups.items():
        first = runs[0]
        width = first.params.get("model.hidden_sizes") or first.params.get(
            "sklearn.hidden_layer_sizes", "-"
        )
        lr = first.params.get("optimizer.lr") or first.params.get("sklearn.learning_rate_init")
        name = f"**{label}** (winner)" if label == winner else label
        rows.append(
            [name, str(width), f"{float(lr):.3g}", str(len(runs))]
            + [
                stat_cell([run.metrics.get(key) for run in runs])
                for key in ("final_val_loss", "test_accuracy", "test_loss")
            ]
        )
    seeds = sorted({int(run.params["seed"]) for runs in record["confirm"].values() for run in runs})
    lines += ["", f"confirmed over seeds {seeds}: mean ± 95% CI half-width (Student t)", ""]
    lines += markdown(
        ["configuration", "width", "lr", "seeds", "final val loss", "test accuracy", "test loss"],
        rows,
    )
    if winner in record["confirm"]:
        ours = record["confirm"][winner]
        rows = []
        for label, runs in groups.items():
            if label == winner:
                continue
            for key in ("final_val_loss", "test_accuracy"):
                rows.append(
                    [
                        f"{winner} - {label}",
                        key,
                        *paired_cells(by_seed(ours, key), by_seed(runs, key)),
                    ]
                )
        lines += [
            "",
            "paired by seed (two-sided paired t-test): difference winner - other, "
            "mean ± 95% CI half-width",
            "",
        ]
        lines += markdown(["comparison", "metric", "mean difference", "p", "seeds"], rows)
    recorded = {k: v for k, v in parent.metrics.items() if k.startswith("confirm_p_vs_")}
    if recorded:
        lines += [
            "",
            "recorded on the sweep parent: "
            + ", ".join(f"{k} = {v:.2g}" for k, v in sorted(recorded.items())),
        ]
    return [*lines, ""]


def experiment_lines(reader: Any, name: str) -> list[str]:
    if name == "digits":
        return digits_lines(reader)
    lines: list[str] = []
    for table in TABLES[name]:
        lines += [*table_lines(reader, table), ""]
    return lines


def main(argv: list[str] | None = None) -> int:
    from nnexp.commands.common import default_tracking_uri, open_reader
    from nnexp.errors import NnexpError

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"experiments to print (default: all of {', '.join(NAMES)})",
    )
    parser.add_argument("--tracking-uri", default=default_tracking_uri(), metavar="URI")
    opts = parser.parse_args(argv)
    unknown = [name for name in opts.names if name not in NAMES]
    if unknown:
        parser.error(f"unknown experiment {unknown[0]!r}; valid: {', '.join(NAMES)}")
    try:
        reader = open_reader(opts.tracking_uri)
        for name in opts.names or NAMES:
            print(f"## {name}\n")
            print("\n".join(experiment_lines(reader, name)))
    except NnexpError as exc:
        print(f"tables: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
