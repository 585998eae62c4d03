"""The MLflow UI, in a real browser: a sweep's parent and child runs are listed on the experiment
page, and a child run's page draws its per-epoch metric charts (issue 8).

Routes (MLflow 3 single-page app, hash routing):
  #/experiments/<id>/runs?workflowType=machine_learning   the runs table ("Model training" view;
                                                           without the parameter a fresh browser
                                                           lands on the GenAI overview)
  #/experiments/<id>/runs/<run_id>/model-metrics?workflowType=machine_learning
                                                           a run's "Model metrics" tab
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.slow

# Bounded waits, generous for a loaded 2-core machine: the first page loads a large JS bundle.
FIRST_RENDER = 60
STEP = 30


@contextmanager
def evidence(driver: WebDriver, artifacts: Path, name: str) -> Iterator[None]:
    """Save a screenshot named after the step when it passes; a screenshot and the DOM if not."""
    try:
        yield
    except BaseException:
        driver.save_screenshot(str(artifacts / f"{name}-FAILED.png"))
        (artifacts / f"{name}-FAILED.html").write_text(driver.page_source)
        raise
    driver.save_screenshot(str(artifacts / f"{name}.png"))
    for stale in artifacts.glob(f"{name}-FAILED.*"):
        stale.unlink()


def run_link(run_id: str) -> tuple[str, str]:
    """The run-name link in the runs table: its href ends with the run id."""
    return By.CSS_SELECTOR, f'a[href$="/runs/{run_id}"]'


def links_named(driver: WebDriver, run_id: str, name: str) -> bool:
    return any(
        link.is_displayed() and link.text.strip() == name
        for link in driver.find_elements(*run_link(run_id))
    )


def test_experiments_are_tagged_as_model_training(sweep_store) -> None:
    """nnexp tags the experiments it creates or opens ``mlflow.experimentKind =
    custom_model_development`` (issue 13.10; the key and value of MLflow 3.17's UI)."""
    from mlflow import MlflowClient

    store = sweep_store
    tags = MlflowClient(tracking_uri=store.uri).get_experiment(store.experiment_id).tags
    assert tags["mlflow.experimentKind"] == "custom_model_development"


@pytest.mark.xfail(
    strict=True,
    reason="MLflow 3.17.2's UI picks the landing page from its global GenAI / Model training "
    "switch (localStorage mlflow.workflowType, GenAI by default), not from the experiment's "
    "mlflow.experimentKind tag; the ?workflowType=machine_learning link does open the runs",
)
def test_the_plain_experiment_link_opens_on_its_runs_table(
    sweep_store, mlflow_ui, browser, ui_artifacts
):
    """Runs first among the browser tests, before any page sets ``workflowType``."""
    store = sweep_store
    browser.get(f"{mlflow_ui}/#/experiments/{store.experiment_id}")
    with evidence(browser, ui_artifacts, "mlflow-ui-landing"):
        WebDriverWait(browser, 20).until(
            lambda d: links_named(d, store.parent.run_id, store.parent.name),
            "the experiment did not open on its runs table",
        )


def test_experiment_page_lists_parent_and_child_runs(sweep_store, mlflow_ui, browser, ui_artifacts):
    store = sweep_store
    browser.get(
        f"{mlflow_ui}/#/experiments/{store.experiment_id}/runs?workflowType=machine_learning"
    )
    with evidence(browser, ui_artifacts, "mlflow-ui-experiment"):
        WebDriverWait(browser, FIRST_RENDER).until(
            lambda d: links_named(d, store.parent.run_id, store.parent.name),
            f"parent run {store.parent.name!r} not listed",
        )
        # Children are nested (collapsed) under the parent: the "+" button in its name cell
        # expands them. ag-grid rows carry the run id as row-id.
        if not all(links_named(browser, c.run_id, c.name) for c in store.children):
            expand = (
                By.CSS_SELECTOR,
                f'.ag-row[row-id="{store.parent.run_id}"] [col-id*="Run Name"] button',
            )
            WebDriverWait(browser, STEP).until(ec.element_to_be_clickable(expand)).click()
        for child in store.children:
            WebDriverWait(browser, STEP).until(
                lambda d, c=child: links_named(d, c.run_id, c.name),
                f"child run {child.name!r} ({child.run_id}) not listed under the parent",
            )


@pytest.mark.parametrize("metric", ["train_loss", "val_loss"])
def test_child_run_page_shows_per_epoch_metric_chart(
    sweep_store, mlflow_ui, browser, ui_artifacts, metric
):
    store = sweep_store
    child = store.children[0]
    epochs = len(store.history[child.run_id][metric])  # the logged epochs (sweep.log_every)
    browser.get(
        f"{mlflow_ui}/#/experiments/{store.experiment_id}/runs/{child.run_id}/model-metrics"
        "?workflowType=machine_learning"
    )
    with evidence(browser, ui_artifacts, f"mlflow-ui-run-{metric}"):
        WebDriverWait(browser, FIRST_RENDER).until(
            lambda d: child.name in d.find_element(By.TAG_NAME, "main").text,
            f"run page of {child.name!r} not rendered",
        )
        # Charts render lazily (only on screen) and there are ~18 of them: filter to this metric.
        search = WebDriverWait(browser, STEP).until(
            ec.element_to_be_clickable(
                (By.CSS_SELECTOR, 'input[placeholder="Search metric charts"]')
            )
        )
        search.send_keys(Keys.CONTROL, "a")
        search.send_keys(Keys.BACKSPACE)
        search.send_keys(metric)
        # The chart card whose title is exactly the metric (not best_/final_<metric>), holding a
        # Plotly line plot with one marker per logged epoch.
        card = f"//div[@data-testid='experiment-view-compare-runs-card'][.//h4[@title='{metric}']]"
        line = f"{card}//*[contains(@class,'js-plotly-plot')]//*[contains(@class,'scatterlayer')]//*[local-name()='path' and contains(@class,'js-line')]"
        points = f"{card}//*[contains(@class,'scatterlayer')]//*[local-name()='path' and contains(@class,'point')]"
        try:
            WebDriverWait(browser, STEP).until(
                lambda d: (
                    d.find_elements(By.XPATH, line)
                    and (d.find_elements(By.XPATH, line)[0].get_attribute("d") or "").startswith(
                        "M"
                    )
                    and len(d.find_elements(By.XPATH, points)) == epochs
                )
            )
        except TimeoutException:
            found = len(browser.find_elements(By.XPATH, points))
            pytest.fail(
                f"no line chart of {metric!r} with {epochs} epoch points on {child.name!r}'s page "
                f"(cards: {len(browser.find_elements(By.XPATH, card))}, points: {found})"
            )
        assert browser.find_element(By.XPATH, card).is_displayed()
