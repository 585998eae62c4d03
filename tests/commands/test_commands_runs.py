"""``python -m nnexp runs``: the table shows what differs, sorts by a metric, fits 120 columns."""

from __future__ import annotations

import pytest

from nnexp.commands.runs import format_table
from nnexp.errors import NnexpError
from nnexp.tracking.reader import RunRecord

SETTINGS = {
    "small-slow": ("optimizer.lr=0.003", "model.hidden_sizes=[8]"),
    "small-fast": ("optimizer.lr=0.03", "model.hidden_sizes=[8]"),
    "big-fastest": ("optimizer.lr=0.3", "model.hidden_sizes=[32,32]"),
}


@pytest.fixture(scope="module")
def three_runs(shared_store):
    """``{name: run_id}`` for three runs that differ in lr and width only."""
    return {name: shared_store.make_run(*extra) for name, extra in SETTINGS.items()}


def table(store, capsys, *args):
    assert store.command("runs", *args) == 0
    return capsys.readouterr().out.splitlines()


def row_ids(lines, n):
    return [line.split()[0] for line in lines[2 : 2 + n]]


def metric(store, run_id, key):
    return store.client().get_run(run_id).data.metrics[key]


def test_only_params_that_differ_are_columns(shared_store, three_runs, capsys):
    lines = table(shared_store, capsys)
    assert lines[0] == "experiment 'nnexp': 3 runs, best_val_loss lowest first"
    assert lines[-1] == f"store: {shared_store.uri}"
    header = lines[1].split()
    # the params the runs were given on the command line, in that order, then the name
    assert header[:4] == ["run", "name", "lr", "hidden_sizes"]
    assert header[4:] == [
        "final_train",
        "final_val",
        "best_val",
        "test_loss",
        "test_acc",
        "diagnosis",
        "state",
    ]
    for equal in ("activation", "n_samples", "epochs", "seed", "uri"):
        assert equal not in header
    assert header.count("name") == 1  # the run name; model.name is equal in every run
    small = next(line for line in lines if line.startswith(three_runs["small-slow"][:8]))
    # mlp-moons-adam-lr0.003-s0, cut to fit 120: the prefix all names share goes first
    assert small.split()[1] == "…lr0.003-s0"
    big = next(line for line in lines if line.startswith(three_runs["big-fastest"][:8]))
    assert "[32, 32]" in big and " 0.3 " in big and big.rstrip().endswith("FINISHED")
    assert any(
        line.startswith("hidden: ") and "params equal in every run" in line for line in lines
    )
    assert all(len(line) <= 120 for line in lines[:-1])


def test_default_sort_is_best_val_loss_lowest_first(shared_store, three_runs, capsys):
    lines = table(shared_store, capsys)
    ids = sorted(three_runs.values(), key=lambda r: metric(shared_store, r, "best_val_loss"))
    assert row_ids(lines, 3) == [run_id[:8] for run_id in ids]
    assert "best_val_loss lowest first" in lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ("--sort", "-final_train_accuracy"),
        ("--sort=-final_train_accuracy",),
        ("--sort", "final_train_accuracy", "--desc"),
    ],
)
def test_sort_by_any_metric_highest_first(shared_store, three_runs, capsys, args):
    values = {r: metric(shared_store, r, "final_train_accuracy") for r in three_runs.values()}
    assert len(set(values.values())) == 3, values  # distinct, so the order is decided
    lines = table(shared_store, capsys, *args)
    highest_first = sorted(values, key=lambda r: -values[r])
    assert row_ids(lines, 3) == [run_id[:8] for run_id in highest_first]
    assert "final_train_accuracy highest first" in lines[0]
    assert "final_train_accuracy" in lines[1].split()  # the sort metric gets a column
    # and without -/--desc the same metric sorts the other way
    lines = table(shared_store, capsys, "--sort", "final_train_accuracy")
    assert row_ids(lines, 3) == [run_id[:8] for run_id in reversed(highest_first)]


def test_limit_keeps_the_best(shared_store, three_runs, capsys):
    lines = table(shared_store, capsys, "--limit", "1")
    best = min(three_runs.values(), key=lambda r: metric(shared_store, r, "best_val_loss"))
    assert "1 of 3 runs" in lines[0]
    assert row_ids(lines, 1) == [best[:8]]


def test_parent_lists_only_its_children(store, capsys):
    from nnexp.tracking import RunRecorder, open_store

    loner = store.make_run()
    tracking = open_store(store.uri, "nnexp", str(store.artifacts))
    with RunRecorder(tracking, run_name="grid", tags={"nnexp.kind": "multirun"}) as p:
        kids = [
            store.make_run(f"model.activation={name}", parent_run_id=p.run_id)
            for name in ("relu", "sigmoid")
        ]
    lines = table(store, capsys, "--parent", p.run_id)
    assert lines[0].startswith(f"runs of multirun {p.run_id[:8]} (grid)")
    assert lines[1].split()[:3] == ["run", "name", "activation"]
    assert sorted(row_ids(lines, 2)) == sorted(k[:8] for k in kids)
    assert loner[:8] not in "\n".join(lines)
    # the experiment table shows all three training runs and names the parent below it
    lines = table(store, capsys)
    assert sorted(row_ids(lines, 3)) == sorted(k[:8] for k in [loner, *kids])
    assert f"  {p.run_id[:8]}  multirun  FINISHED  grid" in lines


def test_bad_input_is_one_line(shared_store, three_runs):
    with pytest.raises(NnexpError, match=r"no run has the metric 'best_vall_loss'; metrics: .*"):
        shared_store.command("runs", "--sort", "best_vall_loss")
    with pytest.raises(NnexpError, match=r"no experiment 'nope' .* experiments: .*nnexp"):
        shared_store.command("runs", "--experiment", "nope")
    with pytest.raises(NnexpError, match=r"no run with id 'ffffffff'"):
        shared_store.command("runs", "--parent", "ffffffff")
    with pytest.raises(NnexpError, match=r"unrecognized arguments: --bogus \(see .*--help\)"):
        shared_store.command("runs", "--bogus")
    with pytest.raises(NnexpError, match=r"--limit 0 is invalid"):
        shared_store.command("runs", "--limit", "0")


def fake_run(index: int, params: dict[str, str], best: float) -> RunRecord:
    return RunRecord(
        run_id=f"{index:x}" * 32,
        name=f"run-{index}",
        experiment_id="1",
        status="FINISHED",
        start_time=index,
        params={"seed": "0", "tracking.uri": f"sqlite:///db{index}", **params},
        metrics={"best_val_loss": best, "final_train_loss": best / 2, "final_val_loss": best},
        tags={"diagnosis": "good"},
    )


def test_wide_tables_drop_the_params_that_do_not_fit():
    keys = [f"group{i}.some_rather_long_parameter_name_{i}" for i in range(12)]
    runs = [
        fake_run(i, {key: f"value-{i}-{'x' * 30}" for key in keys}, best=0.1 * (i + 1))
        for i in range(3)
    ]
    lines = format_table(runs)
    assert all(len(line) <= 120 for line in lines), "\n".join(lines)
    header = lines[0].split()
    assert header[:2] == ["run", "name"]
    shown = header[2:-5]  # then final_train, final_val, best_val, diagnosis, state
    assert 1 <= len(shown) < len(keys)
    assert shown[0] == "some_ra…r_name_0"  # cut in the middle: the distinguishing end stays
    assert len(set(shown)) == len(shown)
    assert header[-2:] == ["diagnosis", "state"]
    start = next(i for i, line in enumerate(lines) if line.startswith("differing params not shown"))
    end = next(i for i, line in enumerate(lines) if line.startswith("metrics:"))
    note = " ".join(lines[start:end])
    assert sum(key + "," in note + "," for key in keys) == len(keys) - len(shown)
    assert "tracking.uri" not in "\n".join(lines)  # bookkeeping differs but is hidden
    assert "…" in lines[1]  # long values are cut


def test_short_column_names_stay_unambiguous():
    from nnexp.commands.common import short_names

    names = short_names(["model.name", "optimizer.name", "optimizer.lr", "optimizer.schedule.name"])
    assert names == {
        "model.name": "model.name",
        "optimizer.name": "optimizer.name",
        "optimizer.lr": "lr",
        "optimizer.schedule.name": "schedule.name",
    }


def test_help_works(tmp_path, cli):
    result = cli(tmp_path, "runs", "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python -m nnexp runs")
    for option in ("--experiment", "--parent", "--sort", "--desc", "--limit", "--tracking-uri"):
        assert option in result.stdout


def test_varied_params_come_first_swept_keys_before_command_line_keys():
    from nnexp.commands.runs import varied_params

    runs = [
        fake_run(i, {"a.x": str(i), "model.name": f"m{i}", "model.width": str(i), "z": str(i)}, 1)
        for i in range(3)
    ]
    for run in runs:
        run.tags.update({"nnexp.swept": "model", "overrides": "z=1 'a.x=2'"})
    differing = ["a.x", "model.name", "model.width", "z"]
    assert varied_params(runs, differing) == ["model.name", "model.width", "z", "a.x"]
    header = format_table(runs)[0].split()
    assert header[:6] == ["run", "name", "model.name", "width", "z", "x"]


def test_a_pruned_trial_shows_its_epoch_and_last_reported_value():
    run = fake_run(1, {}, best=0.5)
    run.metrics = {"train_loss": 0.61, "val_loss": 0.72}  # its last epoch only
    run.tags.update(
        {
            "trial_state": "PRUNED",
            "trial_pruned_epoch": "25",
            "trial_reported_value": "0.6543",
            "nnexp.objective": "best_val_loss",
        }
    )
    done = fake_run(2, {}, best=0.3)
    lines = format_table([done, run])
    header, row = lines[0].split(), lines[2].split()
    cells = dict(zip(header, row, strict=True))
    assert cells == {
        "run": "1" * 8,
        "name": "run-1",
        "final_train": "0.61",
        "final_val": "0.72",
        "best_val": "0.6543",
        "diagnosis": "good",
        "state": "PRUNED@25",
    }
    assert any(line.startswith("PRUNED@N: pruned at epoch N") for line in lines)


def test_without_experiment_the_others_holding_runs_are_named(store, capsys):
    assert table(store, capsys) == [
        "experiment 'nnexp' has no runs (it does not exist)",
        f"store: {store.uri}",
    ]
    store.make_run("tracking.experiment_name=xor-study")
    lines = table(store, capsys)
    assert lines[:2] == [
        "experiment 'nnexp' has no runs (it does not exist)",
        "other experiments with runs: xor-study (1 run); show one with --experiment NAME",
    ]
    store.make_run()
    lines = table(store, capsys)
    assert lines[0] == "experiment 'nnexp': 1 run, best_val_loss lowest first"
    assert lines[-2:] == [
        "other experiments with runs: xor-study (1 run); show one with --experiment NAME",
        f"store: {store.uri}",
    ]
    # naming the experiment shows just it
    lines = table(store, capsys, "--experiment", "xor-study")
    assert lines[0] == "experiment 'xor-study': 1 run, best_val_loss lowest first"
    assert not any(line.startswith("other experiments") for line in lines)


def test_varied_params_win_the_width_over_extra_test_metrics():
    # A mixed experiment (plain runs, a classification and a regression sweep) holds test_*
    # metrics of every kind: the params the user varied still get columns, and the extra test
    # metrics are shown as the width allows (seen: 39 runs, no param column at all).
    runs = []
    for i in range(4):
        run = fake_run(i, {"optimizer.lr": f"0.0{i + 1}", "model.activation": "tanh"}, 0.1 * i)
        run.metrics.update(
            {"test_loss": 0.2, "test_accuracy": 0.9, "test_r2": 0.5, "test_rmse": 0.3}
        )
        run.metrics.update({f"test_extra_metric_{k}": 0.1 for k in range(4)})
        run.tags.update(
            {"overrides": "optimizer.lr=0.01 model.activation=relu", "diagnosis": "underfitting"}
        )
        runs.append(run)
    runs[0].params["model.activation"] = "relu"
    lines = format_table(runs)
    assert all(len(line) <= 120 for line in lines), "\n".join(lines)
    header = lines[0].split()
    assert header[:4] == ["run", "name", "lr", "activation"], header
    assert header[4:8] == ["final_train", "final_val", "best_val", "test_loss"], header
    assert header[-2:] == ["diagnosis", "state"]
    notes = " ".join(lines[5:])
    assert "metrics not shown (width): " in notes
    assert "test_extra_metric_3" in notes and "test_extra_metric_3" not in header
