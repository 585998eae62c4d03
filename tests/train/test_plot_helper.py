"""The learning-curve helper process: same PNG as drawing here, and a PNG even when it fails."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from test_plots import PNG_SIGNATURE, classification_history, png_size

from nnexp import plot_helper
from nnexp.diagnosis import diagnose
from nnexp.plots import plot_learning_curves
from nnexp.train import History


@pytest.fixture
def fresh_helper(monkeypatch):
    """A helper of this test's own, killed afterwards."""
    monkeypatch.setattr(plot_helper, "_helper", None)
    monkeypatch.setattr(plot_helper, "_broken", False)
    yield plot_helper
    if plot_helper._helper is not None:
        plot_helper._helper.kill()
        plot_helper._helper.wait()


def test_helper_draws_the_same_png_as_this_process(fresh_helper, tmp_path):
    history = classification_history()
    diagnosis = diagnose(history, math.log(2))
    fresh_helper.warm_up()
    helper = fresh_helper._helper
    assert helper is not None and helper.poll() is None
    for name in ("a.png", "b.png"):  # one helper serves several drawings
        wait = fresh_helper.draw(history, tmp_path / name, title="moons", diagnosis=diagnosis)
        assert wait() == tmp_path / name
    assert fresh_helper._helper is helper and not fresh_helper._broken
    here = plot_learning_curves(history, tmp_path / "here.png", title="moons", diagnosis=diagnosis)
    assert (tmp_path / "a.png").read_bytes()[:8] == PNG_SIGNATURE
    assert png_size(tmp_path / "a.png") == png_size(here)
    assert (tmp_path / "a.png").read_bytes() == here.read_bytes()  # the same picture, bit for bit


def test_a_dead_helper_falls_back_to_drawing_here(fresh_helper, tmp_path):
    history = classification_history(20)
    fresh_helper.warm_up()
    fresh_helper._helper.kill()
    fresh_helper._helper.wait()
    path = fresh_helper.draw(history, tmp_path / "c.png")()
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    assert fresh_helper._broken and fresh_helper._helper is None
    assert fresh_helper.draw(history, tmp_path / "d.png")().is_file()  # drawn here from now on


class HistoryUnknownThere(History):
    """A history the helper cannot unpickle (it does not import the tests): it crashes there."""


def test_a_drawing_that_fails_in_the_helper_is_made_here(fresh_helper, tmp_path):
    fresh_helper.warm_up()
    helper = fresh_helper._helper
    base = classification_history(20)
    history = HistoryUnknownThere(
        epochs=base.epochs, stop_reason="completed", task="classification"
    )
    target = tmp_path / "e.png"
    assert fresh_helper.draw(history, target)() == target
    assert target.read_bytes()[:8] == PNG_SIGNATURE
    assert fresh_helper._broken and helper.wait(timeout=10) is not None  # given up on it


def test_the_helper_exits_with_its_parent(tmp_path):
    code = (
        "from nnexp import plot_helper; plot_helper.warm_up(); "
        "print(plot_helper._helper.pid, flush=True)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    pid = int(done.stdout.strip())
    import os
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    pytest.fail(f"helper {pid} outlived its parent")


def test_replies_that_arrive_together_are_all_read(fresh_helper, tmp_path, monkeypatch):
    """Both replies in the pipe before the first is read: the second is not lost to a buffer."""
    import time

    monkeypatch.setattr(plot_helper, "WAIT_SECONDS", 10.0)
    first = fresh_helper.call("nnexp.plot_helper:_import", ("json",))
    target = tmp_path / "f.png"
    second = fresh_helper.draw(classification_history(20), target)
    deadline = time.monotonic() + 30
    while not target.is_file() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # the second reply is in the pipe now
    assert first() is None
    assert second() == target
    assert not fresh_helper._broken and fresh_helper._helper is not None
