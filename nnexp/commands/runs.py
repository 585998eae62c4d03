"""``python -m nnexp runs``: a table of an experiment's runs, or of one sweep's or multirun's runs.

Columns: the short run id, the params that differ between the listed runs (equal ones are
hidden, as are the bookkeeping keys ``tracking.*`` and ``trainer.progress``), the final and best
losses and the test metrics, the diagnosis, and the state (the sweep's ``trial_state`` where
there is one, otherwise MLflow's status). Sorted by ``best_val_loss``, lowest first, unless
``--sort METRIC`` (``--sort -METRIC`` or ``--desc``: highest first). Sweep and multirun parents
are listed under the table; ``--parent ID`` shows their runs.
"""

from __future__ import annotations

import math
import textwrap
from typing import Any

from nnexp.commands.common import (
    BOOKKEEPING_LABEL,
    BOOKKEEPING_PARAMS,
    MISSING,
    differing_params,
    format_number,
    format_param,
    make_parser,
    open_reader,
    short_id,
    short_names,
    truncate,
    truncate_middle,
)
from nnexp.commands.table import Column, fit_columns, render
from nnexp.errors import NnexpError
from nnexp.project import experiment_name

MAX_WIDTH = 120
PARAM_WIDTH = 16
DEFAULT_SORT = "best_val_loss"
PARENT_KINDS = ("sweep", "multirun")
#: Metric columns and their headers; ``test_*`` metrics follow when any run has them.
METRIC_HEADERS = {
    "final_train_loss": "final_train",
    "final_val_loss": "final_val",
    "best_val_loss": "best_val",
}
TEST_HEADERS = {"test_loss": "test_loss", "test_accuracy": "test_acc"}


def build_parser() -> Any:
    parser = make_parser(
        "runs",
        "A table of runs: the params that differ between them, final and best metrics,\n"
        "diagnosis and state. Example: python -m nnexp runs --parent 1a2b3c4d --sort -test_accuracy",
    )
    parser.add_argument(
        "--experiment",
        default=None,
        help="MLflow experiment (default: $MLFLOW_EXPERIMENT_NAME, else nnexp)",
    )
    parser.add_argument(
        "--parent", metavar="RUN_ID", help="list the runs of this sweep or multirun parent instead"
    )
    parser.add_argument(
        "--sort",
        default=DEFAULT_SORT,
        metavar="METRIC",
        help="sort by this metric, lowest first; -METRIC for highest first (default: %(default)s)",
    )
    parser.add_argument("--desc", action="store_true", help="sort highest first")
    parser.add_argument("--limit", type=int, metavar="N", help="show only the first N runs")
    return parser


def main(args: list[str]) -> int:
    opts = build_parser().parse_args(_join_negative_sort(args))
    if opts.limit is not None and opts.limit < 1:
        raise NnexpError(f"runs: --limit {opts.limit} is invalid: use a positive number")
    reader = open_reader(opts.tracking_uri)
    opts.experiment = experiment_name(opts.experiment, "--experiment").value
    if opts.parent:
        parent = reader.get_run(opts.parent)
        runs, parents = reader.children(parent), []
        title = f"runs of {parent.kind} {short_id(parent.run_id)} ({parent.name})"
        if not runs:
            raise NnexpError(f"run {parent.run_id} ({parent.name}) has no child runs")
    else:
        listed = reader.search([reader.experiment_id(opts.experiment)])
        runs = [run for run in listed if run.kind not in PARENT_KINDS]
        parents = [run for run in listed if run.kind in PARENT_KINDS]
        title = f"experiment {opts.experiment!r}"
    metric, descending = opts.sort.lstrip("-"), opts.desc or opts.sort.startswith("-")
    if runs and not any(metric in run.metrics for run in runs):
        available = sorted({key for run in runs for key in run.metrics})
        raise NnexpError(f"runs: no run has the metric {metric!r}; metrics: {', '.join(available)}")
    runs = sort_runs(runs, metric, descending)
    total = len(runs)
    runs = runs[: opts.limit] if opts.limit else runs
    order = "highest" if descending else "lowest"
    shown = f"{len(runs)} of {total}" if len(runs) < total else f"{total}"
    print(f"{title}: {shown} runs, {metric} {order} first")
    for line in format_table(runs, metric):
        print(line)
    for line in parent_lines(parents):
        print(line)
    print(f"store: {reader.described_uri}", flush=True)
    return 0


def sort_runs(runs: list[Any], metric: str, descending: bool) -> list[Any]:
    """By ``metric`` (runs without it last), ties by start time, newest first."""

    def key(run: Any) -> tuple[int, float, int]:
        value = run.metrics.get(metric)
        if value is None or not math.isfinite(value):
            return (1, 0.0, -run.start_time)
        return (0, -value if descending else value, -run.start_time)

    return sorted(runs, key=key)


def format_table(runs: list[Any], sort_metric: str = DEFAULT_SORT) -> list[str]:
    """The table's lines (header first), then notes on what is hidden; fits ``MAX_WIDTH``."""
    if not runs:
        return ["(no runs)"]
    params = differing_params(runs)
    names = short_names(params)
    param_columns = [
        Column(
            truncate_middle(names[key], PARAM_WIDTH),
            [format_param(run.params.get(key, MISSING), PARAM_WIDTH) for run in runs],
        )
        for key in params
    ]
    metrics = metric_columns(runs, sort_metric)
    before = [Column("run", [short_id(run.run_id) for run in runs])]
    after = [
        *(
            Column(header, [format_number(run.metrics.get(key)) for run in runs], ">")
            for key, header in metrics.items()
        ),
        Column("diagnosis", [run.tags.get("diagnosis", MISSING) for run in runs]),
        Column("state", [run_state(run) for run in runs]),
    ]
    columns, dropped = fit_columns(before, param_columns, after, MAX_WIDTH)
    lines = render(columns)
    if len(runs) > 1:
        lines.append(f"hidden: {hidden_summary(runs, params)}")
    if dropped:
        key_of = {id(column): key for column, key in zip(param_columns, params, strict=True)}
        keys = [key_of[id(column)] for column in dropped]
        lines.append(f"differing params not shown (width): {', '.join(keys)}")
    renamed = {k: h for k, h in metrics.items() if k != h}
    if renamed:
        lines.append("metrics: " + ", ".join(f"{h} = {k}" for k, h in renamed.items()))
    return [*lines[: len(runs) + 1], *_wrap(lines[len(runs) + 1 :])]


def hidden_summary(runs: list[Any], differing: list[str]) -> str:
    """How many params are hidden because every run has the same value."""
    keys = {key for run in runs for key in run.params if not key.startswith(BOOKKEEPING_PARAMS)}
    return (
        f"{len(keys) - len(differing)} params equal in every run, and the bookkeeping params "
        f"{BOOKKEEPING_LABEL}"
    )


def metric_columns(runs: list[Any], sort_metric: str) -> dict[str, str]:
    """``{metric: header}``: final and best losses, test metrics present, and the sort metric."""
    present = {key for run in runs for key in run.metrics}
    columns = {key: header for key, header in METRIC_HEADERS.items() if key in present}
    tests = sorted(key for key in present if key.startswith("test_"))
    tests.sort(key=lambda key: key != "test_loss")
    columns.update({key: TEST_HEADERS.get(key, key) for key in tests})
    if sort_metric in present and sort_metric not in columns:
        columns[sort_metric] = sort_metric
    return columns


def run_state(run: Any) -> str:
    """``trial_state`` (COMPLETE, PRUNED, FAIL) for a finished trial, else MLflow's status."""
    trial_state = run.tags.get("trial_state")
    if run.status == "FINISHED" and trial_state:
        return trial_state
    return run.status


def parent_lines(parents: list[Any]) -> list[str]:
    if not parents:
        return []
    lines = ["parents (show their runs with --parent RUN_ID):"]
    for run in parents:
        line = f"  {short_id(run.run_id)}  {run.kind:<8}  {run.status:<8}  {run.name}"
        lines.append(truncate(line, MAX_WIDTH))
    return lines


def _wrap(notes: list[str]) -> list[str]:
    wrapped = []
    for note in notes:
        wrapped += textwrap.wrap(
            note, MAX_WIDTH, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False
        )
    return wrapped


def _join_negative_sort(args: list[str]) -> list[str]:
    """Let ``--sort -metric`` through argparse (which takes ``-metric`` for an option)."""
    joined: list[str] = []
    index = 0
    while index < len(args):
        if args[index] == "--sort" and index + 1 < len(args) and args[index + 1].startswith("-"):
            joined.append(f"--sort={args[index + 1]}")
            index += 2
        else:
            joined.append(args[index])
            index += 1
    return joined
