"""The MLflow UI, in a real browser: a sweep's parent and child runs are listed on the experiment
page, and a child run's page draws its per-epoch metric charts (issue 8).

Routes (MLflow 3 single-page app, hash routing):
  #/experiments/<id>/runs?workflowType=machine_learning   the runs table ("Model training" view,
                                                           the link nnexp prints; without the
                                                           parameter a fresh browser lands on
                                                           the GenAI overview, tag or not)
  #/experiments/<id>/runs/<run_id>/model-metrics?workflowType=machine_learning
                                                           a run's "Model metrics" tab
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from chromium import fresh_browser
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.slow

# The UI's GenAI / Model training switch, as its useLocalStorage hook stores it (key_v<version>).
WORKFLOW_KEY = "mlflow.workflowType_v1"

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


def printed_runs_link(store, ui_base: str) -> str:
    """The runs-table link of the sweep's ``open the UI`` line, on the test server's port."""
    found = re.search(
        r"open the UI: mlflow ui --backend-store-uri sqlite:///mlruns/mlflow\.db, then "
        r"(http://127\.0\.0\.1:5000)(/\S+)$",
        store.stdout,
        re.MULTILINE,
    )
    assert found, f"no 'open the UI' line with a link in the sweep's output:\n{store.stdout}"
    assert found.group(2) == (
        f"/#/experiments/{store.experiment_id}/runs?workflowType=machine_learning"
    )
    return ui_base + found.group(2)


def test_the_printed_link_opens_the_runs_table_in_a_fresh_browser(
    sweep_store, mlflow_ui, ui_artifacts
):
    """The link nnexp prints, opened in a new browser profile (nothing clicked, no
    localStorage), shows the runs table with the sweep's parent run (issue 13.10)."""
    store = sweep_store
    link = printed_runs_link(store, mlflow_ui)
    with fresh_browser() as driver:
        driver.get(link)
        with evidence(driver, ui_artifacts, "mlflow-ui-printed-link"):
            WebDriverWait(driver, FIRST_RENDER).until(
                lambda d: links_named(d, store.parent.run_id, store.parent.name),
                f"{link} did not show the runs table with {store.parent.name!r}",
            )
            route, _, query = driver.current_url.split("#", 1)[1].partition("?")
            assert route == f"/experiments/{store.experiment_id}/runs"
            assert parse_qs(query)["workflowType"] == ["machine_learning"]
            assert driver.execute_script(
                "return localStorage.getItem(arguments[0])", WORKFLOW_KEY
            ) in (
                None,
                '"genai"',
            ), "the profile was not fresh"


def test_mlflow_3_17_lands_a_plain_experiment_link_on_genai_despite_the_tag(
    sweep_store, mlflow_ui, ui_artifacts
):
    """Why the printed link carries ``?workflowType=machine_learning``: a fresh browser opening
    the bare experiment link lands on the GenAI tabs although the experiment is tagged
    ``mlflow.experimentKind = custom_model_development`` (MLflow 3.17.2's UI reads only its
    workflowType switch). If this fails after an MLflow upgrade, the UI may now honour the
    tag: revisit nnexp.report.runs_url."""
    store = sweep_store
    with fresh_browser() as driver:
        driver.get(f"{mlflow_ui}/#/experiments/{store.experiment_id}")
        with evidence(driver, ui_artifacts, "mlflow-ui-plain-link"):
            WebDriverWait(driver, FIRST_RENDER).until(
                lambda d: "workflowType=" in d.current_url,
                "the experiment page did not redirect to a tab",
            )
            route, _, query = driver.current_url.split("#", 1)[1].partition("?")
            genai_tabs = ("overview", "traces")  # /overview redirects on to /overview/usage
            assert route.split("/")[:4] in (
                ["", "experiments", store.experiment_id, tab] for tab in genai_tabs
            ), route
            assert parse_qs(query)["workflowType"] == ["genai"]
            assert not driver.find_elements(*run_link(store.parent.run_id))


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
