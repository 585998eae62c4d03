"""The "open the UI" line: the command, then the experiment's runs-table link (issue 13.10; the
browser side is tests/ui/test_ui_mlflow.py)."""

from __future__ import annotations

from nnexp.report import ui_command


def test_a_local_store_gets_the_mlflow_ui_command_and_the_runs_link() -> None:
    assert ui_command("sqlite:///mlruns/mlflow.db", "7") == (
        "mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db, then "
        "http://127.0.0.1:5000/#/experiments/7/runs?workflowType=machine_learning"
    )
    assert ui_command("postgresql://db.example/mlflow", "3") == (
        "mlflow ui --backend-store-uri postgresql://db.example/mlflow, then "
        "http://127.0.0.1:5000/#/experiments/3/runs?workflowType=machine_learning"
    )


def test_a_tracking_server_link_is_the_runs_view_on_that_server() -> None:
    assert ui_command("http://mlflow.lab:8080/", "12") == (
        "open http://mlflow.lab:8080/#/experiments/12/runs?workflowType=machine_learning "
        "in a browser"
    )


def test_without_an_experiment_only_the_command_is_given() -> None:
    assert ui_command("sqlite:///mlruns/mlflow.db") == (
        "mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db"
    )
