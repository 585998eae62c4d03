"""MLflow's variables (README "Which store"): errors name the variable that chose a value,
every output says ``(from MLFLOW_TRACKING_URI)``, ``MLFLOW_EXPERIMENT_ID`` is honoured as
MLflow's ``start_run`` honours it, ``MLFLOW_RUN_ID`` is refused before any run."""

from __future__ import annotations

import pytest

from nnexp.errors import TrackingError

FAST = [
    "data.n_samples=120",
    "trainer.epochs=3",
    "trainer.progress=false",
    "tracking.log_model=false",
    "tracking.log_plots=false",
]


def run_with_environment(*extra: str):
    """One run whose store and experiment come from the environment alone."""
    from nnexp.config.compose import compose_config
    from nnexp.run import run_experiment

    overrides = [*FAST, *extra]
    return run_experiment(compose_config(overrides), overrides=overrides)


def all_runs(store) -> list:
    client = store.client()
    ids = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(ids)


@pytest.mark.parametrize(
    ("value", "suggested"),
    [
        ("/tmp/plain", "sqlite:////tmp/plain/mlflow.db"),
        ("file:///tmp/fs/", "sqlite:////tmp/fs/mlflow.db"),
    ],
)
def test_a_bad_uri_from_the_variable_names_the_variable_and_only_what_mlflow_opens(
    monkeypatch, value, suggested
):
    from nnexp.tracking.store import resolve_uri

    monkeypatch.setenv("MLFLOW_TRACKING_URI", value)
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    with pytest.raises(TrackingError) as error:
        resolve_uri(None)
    message = str(error.value)
    assert message == (
        f"MLFLOW_TRACKING_URI={value!r} is invalid: a folder is MLflow's file store, which "
        f"MLflow 3.17 refuses (maintenance mode) unless MLFLOW_ALLOW_FILE_STORE=true; use a "
        f"database such as {suggested} (valid: "
        "sqlite://, postgresql://, mysql://, mssql://, http://, https://, databricks://)"
    )
    with pytest.raises(TrackingError, match=r"^--tracking-uri='ftp://x' is invalid"):
        resolve_uri("ftp://x", "--tracking-uri")


def test_runs_of_an_empty_store_says_the_variable_chose_it(store, monkeypatch, capsys):
    from nnexp.commands import runs

    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.uri)
    assert runs.main([]) == 0
    out = capsys.readouterr().out
    assert out.endswith(f"store: {store.uri} (from MLFLOW_TRACKING_URI)\n")


def test_experiment_id_is_honoured_and_the_summary_names_the_variable(store, monkeypatch, capsys):
    from nnexp.report import format_summary

    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.uri)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", "0")
    result = run_with_environment()
    (run,) = all_runs(store)
    assert run.info.run_id == result.run_id and run.info.experiment_id == "0"
    assert f"MLflow run: {result.run_id} in {store.uri} (from MLFLOW_TRACKING_URI)\n" in (
        format_summary(result)
    )
    from nnexp.commands import runs

    capsys.readouterr()
    assert runs.main([]) == 0  # runs lists the variable's experiment, as a run records into it
    out = capsys.readouterr().out
    assert out.startswith("experiment 'Default': 1 run,") and result.run_id[:8] in out

    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", "42")
    with pytest.raises(TrackingError) as error:
        run_with_environment()
    assert str(error.value) == (
        f"MLFLOW_EXPERIMENT_ID='42' is invalid: no such experiment in {store.uri}; valid ids: "
        "0 (Default)"
    )
    # both variables must name one experiment, as MLflow's start_run requires
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "Default")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", "7")
    with pytest.raises(TrackingError, match=r"^MLFLOW_EXPERIMENT_ID='7' is invalid: MLFLOW_EXP"):
        run_with_environment()
    assert len(all_runs(store)) == 1


def test_mlflow_run_id_is_refused_before_any_run(store, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.uri)
    existing = store.make_run()
    monkeypatch.setenv("MLFLOW_RUN_ID", existing)
    with pytest.raises(TrackingError) as error:
        run_with_environment()
    assert str(error.value) == (
        f"MLFLOW_RUN_ID={existing!r} is set: nnexp records each run as a new MLflow run and does "
        "not resume another; unset it (env -u MLFLOW_RUN_ID python -m nnexp ...)"
    )
    assert [run.info.run_id for run in all_runs(store)] == [existing]


def test_mlflows_own_switch_still_opens_its_file_store(monkeypatch):
    """``MLFLOW_ALLOW_FILE_STORE=true`` makes MLflow 3.17 open its file store again: nnexp does
    not refuse what MLflow would open (records made that way stay readable)."""
    from nnexp.tracking.store import resolve_uri

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "file:///tmp/fs")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    assert resolve_uri(None) == "file:///tmp/fs"
    assert resolve_uri("/tmp/plain", "--tracking-uri") == "/tmp/plain"
