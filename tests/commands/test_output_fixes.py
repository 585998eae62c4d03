"""What the command line prints: the store in the loading line, run names cut so that what
tells runs apart survives, every table and heading within 120 columns, the confirm wording."""

from __future__ import annotations

from types import SimpleNamespace

from nnexp.commands.names import distinguishing_names
from nnexp.tracking.reader import RunRecord

MAX_WIDTH = 120


def test_the_loading_line_names_the_store_the_run_uses(tmp_path, monkeypatch):
    from nnexp.config.compose import compose_config
    from nnexp.report import loading_line

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = compose_config([])
    assert loading_line(cfg, "r") == (
        f"run r: loading data=moons, starting MLflow on sqlite:///{tmp_path}/mlruns/mlflow.db"
    )  # it printed "starting MLflow (None)": the config's null tracking.uri
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///x/mlflow.db")
    assert loading_line(cfg, "r").endswith(
        "starting MLflow on sqlite:///x/mlflow.db (from MLFLOW_TRACKING_URI)"
    )
    off = compose_config(["tracking=off"])
    assert loading_line(off, "r") == "run r: loading data=moons, tracking off"


def test_names_lose_their_shared_prefix_and_keep_their_end():
    multirun = [
        "mlp-moons-adam-lr0.1-s1 model.activation=tanh",
        "mlp-moons-adam-lr0.01-s0 model.activation=relu",
    ]
    assert distinguishing_names(multirun, 32) == [
        "…lr0.1-s1 model.activation=tanh",
        "…lr0.01-s0 model.activation=relu",
    ]
    assert distinguishing_names(multirun, 10) == ["…tion=tanh", "…tion=relu"]
    trials = ["lr-a786b2c1-t5-s9997", "lr-a786b2c1-t12-s9997"]
    assert distinguishing_names(trials, 12) == ["…t5-s9997", "…t12-s9997"]
    assert distinguishing_names(["mlp_wide-sine-adam-lr0.01-s0"], 20) == ["…sine-adam-lr0.01-s0"]
    assert distinguishing_names(["a", "b"], 10) == ["a", "b"]


def record(index: int, name: str, params: dict[str, str], metrics: dict[str, float]) -> RunRecord:
    return RunRecord(
        run_id=f"{index:x}" * 32,
        name=name,
        experiment_id="1",
        status="FINISHED",
        start_time=index,
        params={"model.hidden_sizes": "[16, 16]", **params},
        metrics=metrics,
        tags={"diagnosis": "good", "nnexp.swept": "optimizer.lr,seed,model.activation"},
    )


def multirun_jobs() -> list[RunRecord]:
    runs = []
    for index, (lr, seed, act) in enumerate(
        (lr, seed, act) for lr in ("0.01", "0.1") for seed in "01" for act in ("relu", "tanh")
    ):
        loss = 0.1 + index / 100
        runs.append(
            record(
                index + 1,
                f"mlp-moons-adam-lr{lr}-s{seed} model.activation={act}",
                {"optimizer.lr": lr, "seed": seed, "model.activation": act},
                {
                    "final_train_loss": loss,
                    "final_val_loss": loss,
                    "best_val_loss": loss,
                    "test_loss": loss + 0.1,
                    "test_accuracy": 0.9 - index / 100,
                },
            )
        )
    return runs


def test_the_runs_table_keeps_the_end_of_names_within_120_columns():
    from nnexp.commands.runs import format_table

    lines = format_table(multirun_jobs())
    assert all(len(line) <= MAX_WIDTH for line in lines), "\n".join(lines)
    names = [line.split()[1] for line in lines[1:9]]
    assert sorted(names) == sorted(["…tion=relu", "…tion=tanh"] * 4)  # was "mlp-…=tanh"
    # one run: nothing competes for the width, the whole name shows (was "mlp_wide-si…am-lr0.01-s0")
    (alone,) = [record(1, "mlp_wide-sine-adam-lr0.01-s0", {}, {"best_val_loss": 0.1})]
    assert format_table([alone])[1].split()[1] == "mlp_wide-sine-adam-lr0.01-s0"


def test_grouped_tables_and_headings_fit_120_columns():
    from nnexp.commands.groups import group_table
    from nnexp.commands.runs import fit_heading

    lines = group_table(multirun_jobs(), "optimizer.lr", "best_val_loss")
    assert all(len(line) <= MAX_WIDTH for line in lines), "\n".join(lines)  # were 161
    header = ["optimizer.lr", "n", "final_val_loss", "best_val_loss", "test_accuracy"]
    assert lines[0].split() == header
    assert lines[-2:] == [
        "each metric: mean ± sd [95% CI of the mean, Student t] over the group's runs",
        "metrics not shown (width): test_loss",
    ]
    by_test_loss = group_table(multirun_jobs(), "optimizer.lr", "test_loss")
    assert by_test_loss[0].split()[-1] == "test_loss"  # the sort metric always shows

    parent = SimpleNamespace(name="multirun " + " ".join(f"key{i}=value{i}" for i in range(30)))
    line = f"runs of multirun 749450be ({parent.name}): 8 runs, best_val_loss lowest first"
    fitted = fit_heading(line, parent)
    assert len(fitted) == MAX_WIDTH
    assert fitted.startswith("runs of multirun 749450be (multirun key0=value0 ")
    assert fitted.endswith("…): 8 runs, best_val_loss lowest first")


def test_confirm_names_whom_the_winner_is_tested_against():
    from nnexp.sweep.confirm_report import format_report

    report = {
        "metric": "best_val_loss",
        "direction": "minimize",
        "seeds": [9999, 9998],
        "significance": 0.05,
        "configs": [],
        "winner": "trial 1",
        "comparisons": [
            {
                "against": "trial 2",
                "role": "runner-up",
                "p_value": 0.2,
                "mean_difference": -0.01,
                "n": 2,
            },
            {"against": "base", "role": "base"},
        ],
    }
    lines = format_report(report).splitlines()
    assert lines[-2] == (
        "  vs the runner-up trial 2: mean difference -0.01, paired t-test p = 0.2 (not "
        "significant at 0.05, n=2)"
    )
    assert lines[-1] == "  vs the base config: too few paired seeds to test"  # was "vs base (base)"
