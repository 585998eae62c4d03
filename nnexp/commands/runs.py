"""``python -m nnexp runs``: a table of an experiment's runs, or of one sweep's or multirun's runs.

Columns: the short run id and the run name; the params that differ between the listed runs,
first those the user varied (a sweep's space or a multirun's swept overrides, tag
``nnexp.swept``; then the keys set on the command line, tag ``overrides``), then the others as
the width allows (equal ones are hidden, as are the bookkeeping keys ``tracking.*`` and
``trainer.progress``); the final and best losses and the test metrics; the diagnosis; the state
(the sweep's ``trial_state`` where there is one, ``PRUNED@N`` for a trial pruned at epoch N,
otherwise MLflow's status). Sorted by ``best_val_loss``, lowest first, unless ``--sort METRIC``
(``--sort -METRIC`` or ``--desc``: highest first). Sweep and multirun parents are listed under
the table; ``--parent ID`` shows their runs. Without ``--experiment``, the other experiments
that hold runs are named (``experiments/`` files may log into their own).
"""

from __future__ import annotations

import contextlib
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
from nnexp.commands.names import distinguishing_names
from nnexp.commands.table import GAP, Column, fit_columns, render, table_width
from nnexp.errors import NnexpError
from nnexp.project import EXPERIMENT_ID_ENV, experiment_name

MAX_WIDTH = 120
PARAM_WIDTH = 16
NAME_WIDTH = 28
MIN_NAME_WIDTH = 10
#: Headers of the table's own columns: a param's short name must not look like one of them.
RESERVED_HEADERS = ("run", "name", "diagnosis", "state")
DEFAULT_SORT = "best_val_loss"
DEFAULT_EXPERIMENT = "nnexp"
PARENT_KINDS = ("sweep", "multirun")
#: Metric columns and their headers; ``test_*`` metrics follow when any run has them.
METRIC_HEADERS = {
    "final_train_loss": "final_train",
    "final_val_loss": "final_val",
    "best_val_loss": "best_val",
}
TEST_HEADERS = {"test_loss": "test_loss", "test_accuracy": "test_acc"}
#: Metric columns always shown (with the sort metric); other test_* metrics as width allows.
CORE_METRICS = (*METRIC_HEADERS, "test_loss")


def build_parser() -> Any:
    parser = make_parser(
        "runs",
        "A table of runs: the params that differ between them, final and best metrics,\n"
        "diagnosis and state. Example: python -m nnexp runs --parent 1a2b3c4d --sort -test_accuracy",
    )
    parser.add_argument(
        "--experiment",
        default=None,
        help=f"MLflow experiment (default: $MLFLOW_EXPERIMENT_NAME, else {DEFAULT_EXPERIMENT}; "
        "experiments/ files may log into their own: the table names the others that hold runs)",
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
    parser.add_argument(
        "--limit",
        type=int,
        metavar="N",
        help="show only the first N runs (with --group-by: the first N groups, each over all its runs)",
    )
    parser.add_argument(
        "--group-by",
        metavar="PARAM",
        help="one row per value of this param: the count and mean ± sd of the metrics",
    )
    return parser


def main(args: list[str]) -> int:
    opts = build_parser().parse_args(_join_negative_sort(args))
    if opts.limit is not None and opts.limit < 1:
        raise NnexpError(f"runs: --limit {opts.limit} is invalid: use a positive number")
    reader = open_reader(opts.tracking_uri)
    parent, others = None, {}
    chosen = experiment_name(opts.experiment, "--experiment")
    # the default experiment: the table also names the other experiments that hold runs
    opts.experiment = None if chosen.source == "default" else chosen.value
    if chosen.source == EXPERIMENT_ID_ENV:  # MLflow's variable names the experiment by id
        opts.experiment = reader.experiment_name_from_env_id(chosen.value)
    if opts.parent:
        parent = reader.get_run(opts.parent)
        runs, parents = reader.children(parent), []
        title = f"runs of {parent.kind} {short_id(parent.run_id)} ({parent.name})"
        if not runs:
            raise NnexpError(f"run {parent.run_id} ({parent.name}) has no child runs")
    else:
        name = opts.experiment or DEFAULT_EXPERIMENT
        counts = reader.run_counts() if opts.experiment is None else {}
        others = {other: n for other, n in counts.items() if other != name and n}
        if opts.experiment is None and not counts.get(name):
            print(
                f"experiment {name!r} has no runs{'' if name in counts else ' (it does not exist)'}"
            )
            for line in other_experiments(others):
                print(line)
            print(f"store: {reader.described_uri}", flush=True)
            return 0
        listed = reader.search([reader.experiment_id(name)])
        runs = [run for run in listed if run.kind not in PARENT_KINDS]
        parents = [run for run in listed if run.kind in PARENT_KINDS]
        title = f"experiment {name!r}"
    metric, descending = opts.sort.lstrip("-"), opts.desc or opts.sort.startswith("-")
    if runs and not any(metric in run.metrics for run in runs):
        available = sorted({key for run in runs for key in run.metrics})
        raise NnexpError(f"runs: no run has the metric {metric!r}; metrics: {', '.join(available)}")
    runs = sort_runs(runs, metric, descending)
    total = len(runs)
    order = "highest" if descending else "lowest"
    if opts.group_by:  # every matching run is grouped: --limit limits the groups shown
        from nnexp.commands.groups import group_heading, group_table

        lines = group_table(runs, opts.group_by, metric, descending, opts.limit)
        print(
            fit_heading(
                group_heading(title, runs, opts.group_by, metric, order, opts.limit), parent
            )
        )
        for line in lines:
            print(line)
        print(f"store: {reader.described_uri}", flush=True)
        return 0
    runs = runs[: opts.limit] if opts.limit else runs
    shown = f"{len(runs)} of {total}" if len(runs) < total else f"{total}"
    shown += " run" if total == 1 else " runs"
    print(fit_heading(f"{title}: {shown}, {metric} {order} first", parent))
    for line in format_table(runs, metric, parent):
        print(line)
    for line in parent_lines(parents):
        print(line)
    if not opts.parent:
        for line in other_experiments(others):
            print(line)
    print(f"store: {reader.described_uri}", flush=True)
    return 0


def fit_heading(line: str, parent: Any) -> str:
    """The heading within ``MAX_WIDTH``: a long parent name (a multirun's is its whole command
    line) is cut, the counts and the order after it stay."""
    if len(line) <= MAX_WIDTH or parent is None or f"({parent.name})" not in line:
        return line
    room = max(len(parent.name) - (len(line) - MAX_WIDTH), MIN_NAME_WIDTH)
    return line.replace(f"({parent.name})", f"({truncate(parent.name, room)})", 1)


def other_experiments(counts: dict[str, int]) -> list[str]:
    """Where else runs are (when no ``--experiment`` was given), or that there are none."""
    if not counts:
        return []
    listed = ", ".join(
        f"{name} ({_count(n)} run{'' if n == 1 else 's'})" for name, n in sorted(counts.items())
    )
    return _wrap([f"other experiments with runs: {listed}; show one with --experiment NAME"])


def _count(n: int) -> str:
    from nnexp.tracking.reader import PAGE_SIZE

    return f"{n}+" if n >= PAGE_SIZE else str(n)


def sort_runs(runs: list[Any], metric: str, descending: bool) -> list[Any]:
    """By ``metric`` (runs without it last), ties by start time, newest first."""

    def key(run: Any) -> tuple[int, float, int]:
        value = run.metrics.get(metric)
        if value is None or not math.isfinite(value):
            return (1, 0.0, -run.start_time)
        return (0, -value if descending else value, -run.start_time)

    return sorted(runs, key=key)


def format_table(runs: list[Any], sort_metric: str = DEFAULT_SORT, parent: Any = None) -> list[str]:
    """The table's lines (header first), then notes on what is hidden; fits ``MAX_WIDTH``.

    Columns: the run id and name; the differing params, first those the user varied (a
    sweep's space, a multirun's swept overrides, then the keys set on the command line), as
    many as the width allows; the metrics; diagnosis and state.
    """
    if not runs:
        return ["(no runs)"]
    params = differing_params(runs)
    varied = varied_params(runs if parent is None else [*runs, parent], params)
    params = [*varied, *(key for key in params if key not in varied)]
    names = short_names(params)
    names = {key: key if name in RESERVED_HEADERS else name for key, name in names.items()}
    param_columns = [
        Column(
            truncate_middle(names[key], PARAM_WIDTH),
            [format_param(run.params.get(key, MISSING), PARAM_WIDTH) for run in runs],
        )
        for key in params
    ]
    metrics = metric_columns(runs, sort_metric)
    shown_metrics = [shown_metric_values(run) for run in runs]
    metric_column = {
        key: Column(header, [format_number(values.get(key)) for values in shown_metrics], ">")
        for key, header in metrics.items()
    }
    # the losses, test_loss and the sort metric always show; other test_* metrics (a mixed
    # experiment holds accuracy, r2, rmse, ...) only where the varied params leave room
    core = [key for key in metrics if key in CORE_METRICS or key == sort_metric]
    extra = [key for key in metrics if key not in core]
    id_column = Column("run", [short_id(run.run_id) for run in runs])
    tail = [
        Column("diagnosis", [run.tags.get("diagnosis", MISSING) for run in runs]),
        Column("state", [run_state(run) for run in runs]),
    ]
    after = [*(metric_column[key] for key in core), *tail]
    # the name gets what the varied params and the metrics leave (cut in the middle: names end
    # in what tells them apart), the other differing params what is left then
    extra_columns = [metric_column[key] for key in extra]
    room = MAX_WIDTH - table_width(
        [id_column, *param_columns[: len(varied)], *after, *extra_columns]
    )
    width = max(MIN_NAME_WIDTH, min(NAME_WIDTH, room - len(GAP)))
    full_names = [run.name or MISSING for run in runs]
    name_column = Column("name", distinguishing_names(full_names, width))
    before = [id_column, name_column]
    optional = [*param_columns[: len(varied)], *extra_columns, *param_columns[len(varied) :]]
    columns, dropped = fit_columns(before, optional, after, MAX_WIDTH)
    shown = {id(column) for column in columns}
    columns = [
        *before,
        *(column for column in param_columns if id(column) in shown),
        *after[: len(core)],
        *(column for column in extra_columns if id(column) in shown),
        *tail,
    ]
    # the width the other columns left goes to the names (one run: no params compete)
    spare = MAX_WIDTH - table_width(columns)
    if spare > 0:
        longest = max(len(name) for name in full_names)
        name_column.cells = distinguishing_names(full_names, min(longest, width + spare))
    lines = render(columns)
    if len(runs) > 1:
        lines.append(f"hidden: {hidden_summary(runs, params)}")
    gone = {id(column) for column in dropped}
    dropped_params = [
        key for column, key in zip(param_columns, params, strict=True) if id(column) in gone
    ]
    if dropped_params:
        lines.append(f"differing params not shown (width): {', '.join(dropped_params)}")
    dropped_metrics = [key for key in extra if id(metric_column[key]) in gone]
    if dropped_metrics:
        lines.append(f"metrics not shown (width): {', '.join(dropped_metrics)}")
    metrics = {key: header for key, header in metrics.items() if key not in dropped_metrics}
    renamed = {k: h for k, h in metrics.items() if k != h}
    if renamed:
        lines.append("metrics: " + ", ".join(f"{h} = {k}" for k, h in renamed.items()))
    if any(run_state(run).startswith("PRUNED@") for run in runs):
        lines.append(
            "PRUNED@N: pruned at epoch N; its final_* values are epoch N's, and the sweep's "
            "objective column holds the last value it reported to the pruner"
        )
    return [*lines[: len(runs) + 1], *_wrap(lines[len(runs) + 1 :])]


def varied_params(runs: list[Any], differing: list[str]) -> list[str]:
    """The differing params the user varied, in this order: the keys a sweep or multirun swept
    (tag ``nnexp.swept``), then the keys set on the command line (tag ``overrides``). A group
    key (``model``) stands for its params (``model.name``, ``model.hidden_sizes``)."""
    swept: list[str] = []
    named: list[str] = []
    for run in runs:
        swept += [key for key in run.tags.get("nnexp.swept", "").split(",") if key]
        named += [_override_key(line) for line in _split(run.tags.get("overrides", ""))]
    ordered: list[str] = []
    for key in [*swept, *named]:
        for param in differing:
            if (param == key or param.startswith(f"{key}.")) and param not in ordered:
                ordered.append(param)
    return ordered


def shown_metric_values(run: Any) -> dict[str, float]:
    """The run's metrics as the table shows them. A pruned trial has no ``final_*``/``best_*``
    values (it stopped mid-fit): its last epoch's values stand in for ``final_*``, and the last
    value it reported to the pruner for the sweep's objective (tag ``nnexp.objective``)."""
    values = dict(run.metrics)
    if run.tags.get("trial_state") != "PRUNED":
        return values
    for key, value in run.metrics.items():
        if key.startswith(("train_", "val_")):
            values.setdefault(f"final_{key}", value)
    objective, reported = run.tags.get("nnexp.objective"), run.tags.get("trial_reported_value")
    # best_*/final_* objectives report that very value per epoch (test_* report val_*)
    if objective and objective.startswith(("best_", "final_")) and reported is not None:
        with contextlib.suppress(ValueError):
            values.setdefault(objective, float(reported))
    return values


def hidden_summary(runs: list[Any], differing: list[str]) -> str:
    """How many params are hidden because every run has the same value."""
    keys = {key for run in runs for key in run.params if not key.startswith(BOOKKEEPING_PARAMS)}
    return (
        f"{len(keys) - len(differing)} params equal in every run, and the bookkeeping params "
        f"{BOOKKEEPING_LABEL}"
    )


def metric_columns(runs: list[Any], sort_metric: str) -> dict[str, str]:
    """``{metric: header}``: final and best losses, test metrics present, and the sort metric."""
    present = {key for run in runs for key in shown_metric_values(run)}
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
        epoch = run.tags.get("trial_pruned_epoch")
        return f"PRUNED@{epoch}" if trial_state == "PRUNED" and epoch else trial_state
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


def _split(line: str) -> list[str]:
    import shlex

    try:
        return shlex.split(line)
    except ValueError:
        return line.split()


def _override_key(line: str) -> str:
    return line.split("=", 1)[0].lstrip("+~")


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
