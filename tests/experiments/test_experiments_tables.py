"""experiments/tables.py prints the README's tables from the MLflow record, and
experiments/sklearn_digits.py logs scikit-learn's baseline on the digits sweep's split and seeds.

The intervals are checked against scipy.stats.t on fixed inputs, and a table against the values
read back through MlflowClient from a tiny multirun recorded by ``python -m nnexp -m``.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from nnexp_testing import NnexpCommand
from scipy import stats as scipy_stats

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
sys.path.insert(0, str(EXPERIMENTS))

import sklearn_digits  # noqa: E402
import tables  # noqa: E402

from nnexp.stats import summarize  # noqa: E402


def scipy_half_width(values: list[float]) -> float:
    n = len(values)
    return float(scipy_stats.t.ppf(0.975, n - 1) * np.std(values, ddof=1) / math.sqrt(n))


def test_cell_is_mean_and_student_t_half_width_as_scipy():
    values = [0.962, 0.967, 0.958, 0.965, 0.964]
    half = scipy_half_width(values)
    assert summarize(values).half_width == pytest.approx(half, rel=1e-12)
    # the half-width (0.00425) to two significant digits, the mean to the same decimal place
    assert tables.stat_cell(values) == f"{np.mean(values):.4f} ± {half:.4f}" == "0.9632 ± 0.0042"


def test_cell_formats_small_large_missing_and_constant_values():
    assert tables.stat_cell([10.0, 20.0, 30.0]) == "20 ± 25"  # t(2) = 4.303: 4.303 * 10 / √3
    assert tables.stat_cell([1.0, 1.0, 1.0]) == "1 ± 0"
    assert tables.stat_cell([0.9, 0.9]) == "0.900 ± 0"
    assert tables.stat_cell([0.5, None, 0.7]) == "0.6 ± 1.3 (2 of 3)"
    assert tables.stat_cell([None, None], empty="never") == "never"
    assert tables.stat_cell([1e5, 3e5]).startswith("2.00e+05 ± ")
    assert tables.tally_cell(["good", "underfit", "good"]) == "good 2/3, underfit 1/3"


@pytest.fixture(scope="module")
def recorded_multirun(tmp_path_factory):
    """Two learning rates x two seeds of the learning_rate experiment, 4 epochs each."""
    workdir = tmp_path_factory.mktemp("tables")
    nnexp = NnexpCommand(workdir)
    proc = nnexp.run("-m", "+experiment=learning_rate", "optimizer.lr=0.3,3", "seed=range(2)",
                     "trainer.epochs=4", "trainer.progress=false", "data.n_samples=200",
                     "tracking.log_plots=false", "tracking.log_model=false")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return nnexp


def test_table_rows_are_the_recorded_runs_grouped_over_seeds(recorded_multirun, capsys):
    nnexp = recorded_multirun
    assert tables.main(["learning_rate", "--tracking-uri", nnexp.store_uri]) == 0
    out = capsys.readouterr().out
    runs = [r for r in nnexp.runs("learning_rate") if "mlflow.parentRunId" in r.data.tags]
    assert len(runs) == 4
    assert "mean ± 95% CI half-width (Student t) over 2 seeds" in out
    for lr in ("0.3", "3"):
        group = [r for r in runs if float(r.data.params["optimizer.lr"]) == float(lr)]
        assert sorted(r.data.params["seed"] for r in group) == ["0", "1"]
        row = next(line for line in out.splitlines() if line.startswith(f"| {lr} |"))
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        val = [r.data.metrics["final_val_loss"] for r in group]
        mean, half = cells[2].split(" ± ")
        decimals = len(mean.split(".")[1]) if "." in mean else 0
        assert float(mean) == pytest.approx(np.mean(val), abs=0.6 * 10**-decimals)
        assert float(half) == pytest.approx(scipy_half_width(val), rel=0.05)
        assert cells[5] == "4 ± 0"  # epochs run
        labels = sorted(r.data.tags["diagnosis"] for r in group)
        assert cells[6] == tables.tally_cell(labels)


def test_unknown_experiment_is_refused_with_the_valid_names(capsys):
    with pytest.raises(SystemExit) as exc:
        tables.main(["nope"])
    assert exc.value.code == 2
    assert "unknown experiment 'nope'; valid: seed_xor, capacity" in capsys.readouterr().err


def test_sklearn_classifier_takes_the_runs_setting():
    from nnexp.config.compose import compose_config

    cfg = compose_config(["+experiment=digits", "model.hidden_sizes=[16]", "optimizer.lr=0.004",
                          "seed=9999", "tracking=off"])  # fmt: skip
    params = sklearn_digits.classifier(cfg).get_params()
    assert params["hidden_layer_sizes"] == (16,)
    assert params["activation"] == "relu"
    assert params["solver"] == "adam"
    assert params["learning_rate_init"] == 0.004
    assert params["batch_size"] == 32
    assert params["max_iter"] == 40
    assert params["alpha"] == 0.0
    assert (params["beta_1"], params["beta_2"], params["epsilon"]) == (0.9, 0.999, 1e-8)
    assert params["random_state"] == 9999
    assert params["n_iter_no_change"] > params["max_iter"]  # trains every epoch


def test_sklearn_baseline_trains_on_nnexps_own_split():
    from nnexp.build import build_splits
    from nnexp.config.compose import compose_config

    cfg = compose_config(["+experiment=digits", "trainer.epochs=3", "tracking=off"])
    metrics, params = sklearn_digits.fit_and_score(cfg)
    _, splits = build_splits(cfg.data, cfg.seed)
    assert metrics["epochs_run"] == 3
    assert metrics["test_accuracy"] > 0.8
    # the accuracy is a count over nnexp's own test split
    count = metrics["test_accuracy"] * len(splits.test.y)
    assert count == pytest.approx(round(count), abs=1e-9)
    assert params["sklearn.max_iter"] == 3


README = (EXPERIMENTS / "README.md").read_text()


def readme_lines(prefix: str) -> list[list[str]]:
    """The words of every line of the README's ```bash blocks that starts with ``prefix``."""
    import shlex

    lines, in_bash = [], False
    for raw in README.splitlines():
        if raw.startswith("```"):
            in_bash = raw.strip() == "```bash"
            continue
        if in_bash and raw.startswith(prefix):
            lines.append(shlex.split(raw, comments=True))
    return lines


def first_value(override: str) -> str:
    """One job of a multirun override: ``seed=range(5)`` -> ``seed=0``, ``k=a,b`` -> ``k=a``."""
    key, _, value = override.partition("=")
    if value.startswith("range("):
        return f"{key}=0"
    depth, cut = 0, len(value)
    for i, char in enumerate(value):
        depth += char == "["
        depth -= char == "]"
        if char == "," and depth == 0:
            cut = i
            break
    return f"{key}={value[:cut]}"


def test_readme_run_commands_compose_and_repeat_over_five_seeds():
    from nnexp.config.compose import compose_config

    commands = [
        words[3:] for words in readme_lines("python -m nnexp ") if "+experiment" in " ".join(words)
    ]
    assert len(commands) >= 9
    for words in commands:
        overrides = [first_value(w) for w in words if w != "-m"]
        cfg = compose_config([*overrides, "tracking=off"])
        assert cfg.data.seed == 0  # the split stays fixed while `seed` varies
        if "-m" in words:
            assert "seed=range(5)" in words, words  # every multirun repeats over 5 seeds


def test_readme_scripts_name_known_tables_and_figures():
    import make_figures

    scripts = readme_lines("python experiments/")
    names = {name for words in scripts if words[1].endswith("tables.py") for name in words[2:]}
    figures = {
        name for words in scripts if words[1].endswith("make_figures.py") for name in words[2:]
    }
    assert names == set(tables.NAMES)
    assert figures == set(make_figures.SOURCES)
    assert any(words[1] == "experiments/sklearn_digits.py" for words in scripts)


def test_figures_are_drawn_from_a_recorded_multirun(recorded_multirun, tmp_path):
    import make_figures

    uri = recorded_multirun.store_uri
    assert (
        make_figures.main(["learning_rate", "--tracking-uri", uri, "--output-dir", str(tmp_path)])
        == 0
    )
    assert (tmp_path / "learning_rate.png").stat().st_size > 10_000
