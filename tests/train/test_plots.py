"""plot_learning_curves writes a readable PNG without pyplot or a GUI backend."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nnexp.diagnosis import diagnose
from nnexp.plots import learning_curves_figure, plot_learning_curves
from nnexp.train import History

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def classification_history(n=120) -> History:
    ep = np.arange(1, n + 1)
    train = 0.69 * np.exp(-ep / 15) + 0.003
    val = 0.69 * np.exp(-ep / 15) + 0.1 + 0.002 * np.maximum(ep - 40, 0)
    recs = [
        {
            "epoch": int(e),
            "train_loss": float(t),
            "val_loss": float(v),
            "train_accuracy": float(1 - t / 1.4),
            "val_accuracy": float(1 - v / 1.4),
            "lr": 1e-3,
            "epoch_time": 0.01,
        }
        for e, t, v in zip(ep, train, val, strict=True)
    ]
    return History(epochs=recs, stop_reason="completed", task="classification")


def test_png_written_with_diagnosis(tmp_path):
    h = classification_history()
    d = diagnose(h, math.log(2))
    out = plot_learning_curves(h, tmp_path / "sub" / "curves.png", title="moons", diagnosis=d)
    assert out == tmp_path / "sub" / "curves.png" and out.is_file()
    assert out.stat().st_size > 20_000
    width, height = png_size(out)
    assert width == 1000 and 400 <= height <= 520  # figsize ~ (10, 4) at dpi 100


def test_no_pyplot_and_agg_only(tmp_path):
    """In a fresh interpreter: importing nnexp.plots is cheap, plotting never touches pyplot."""
    code = f"""
import sys
import nnexp.plots
assert "matplotlib" not in sys.modules, "import nnexp.plots must not import matplotlib"
from nnexp.train import History
h = History(epochs=[{{"epoch": 1, "train_loss": 1.0, "val_loss": 1.1}},
                    {{"epoch": 2, "train_loss": 0.5, "val_loss": 0.6}}], stop_reason="completed")
nnexp.plots.plot_learning_curves(h, {str(tmp_path / "a.png")!r})
import matplotlib
assert "matplotlib.pyplot" not in sys.modules, "pyplot imported"
assert matplotlib.get_backend().lower() == "agg", matplotlib.get_backend()
print("ok")
"""
    res = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "DISPLAY": ":0", "MPLBACKEND": ""},
        cwd=Path(__file__).resolve().parents[2],
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"
    assert (tmp_path / "a.png").read_bytes()[:8] == PNG_SIGNATURE


def test_log_scale_regression_and_diverged(tmp_path):
    ep = np.arange(1, 31)
    train = 100.0 * np.exp(-ep / 3)  # spans > 2 decades -> log axis
    recs = [
        {
            "epoch": int(e),
            "train_loss": float(t),
            "val_loss": float(t * 1.2),
            "train_rmse": float(np.sqrt(t)),
            "val_rmse": float(np.sqrt(1.2 * t)),
            "train_r2": float(1 - t / 50),
            "val_r2": float(1 - 1.2 * t / 50),
            "lr": 0.1,
            "epoch_time": 0.0,
        }
        for e, t in zip(ep, train, strict=True)
    ]
    h = History(epochs=recs, stop_reason="diverged: loss=nan at epoch 31", diverged=True)
    out = plot_learning_curves(h, tmp_path / "r.png", diagnosis=diagnose(h, 1.0))
    assert png_size(out)[0] == 1000 and out.stat().st_size > 20_000

    # what the PNG shows, read from the figure it is drawn from
    fig = learning_curves_figure(h, diagnosis=diagnose(h, 1.0))
    ax_loss, ax_r2 = fig.axes
    assert ax_loss.get_yscale() == "log"  # train loss 95.7 .. 0.0045: over four decades
    assert ax_r2.get_yscale() == "linear" and ax_r2.get_ylabel() == "R²"
    curves = {line.get_label(): line for line in ax_loss.get_lines()}
    assert list(curves["train"].get_ydata()) == [r["train_loss"] for r in recs]
    assert list(curves["validation"].get_ydata()) == [r["val_loss"] for r in recs]
    diverged = [
        line
        for line in ax_loss.get_lines()
        if list(line.get_xdata()) == [31, 31] and line.get_color() == "#6a1b9a"
    ]
    assert len(diverged) == 1  # the purple line one epoch after the last finite one
    assert "diverged " in [text.get_text() for text in ax_loss.texts]


@pytest.mark.parametrize("span, scale", [(90.0, "linear"), (110.0, "log")])
def test_log_axis_only_over_two_decades(span, scale):
    """max/min of the losses above 100 gives a log axis, below it a linear one."""
    losses = np.geomspace(span, 1.0, 20)
    recs = [
        {"epoch": e, "train_loss": float(v), "val_loss": float(v)}
        for e, v in enumerate(losses, start=1)
    ]
    fig = learning_curves_figure(History(epochs=recs, stop_reason="completed"))
    [ax_loss] = fig.axes
    assert ax_loss.get_yscale() == scale


def test_empty_history_still_plots(tmp_path):
    h = History(epochs=[], stop_reason="diverged: loss=inf at epoch 1", diverged=True)
    out = plot_learning_curves(h, tmp_path / "e.png", diagnosis=diagnose(h, 1.0))
    assert out.read_bytes()[:8] == PNG_SIGNATURE


def test_png_is_not_blank(tmp_path):
    """Decode the PNG: drawn content, and both curve colours present."""
    from matplotlib.image import imread

    out = plot_learning_curves(classification_history(), tmp_path / "c.png")
    img = imread(out)[..., :3]
    assert (img < 0.95).any(axis=-1).mean() > 0.02  # not blank
    rgb = (img * 255).round().astype(int).reshape(-1, 3)
    for colour in ((0x1F, 0x77, 0xB4), (0xFF, 0x7F, 0x0E)):  # train blue, validation orange
        assert (np.abs(rgb - colour).sum(axis=1) < 30).sum() > 200, colour


def test_train_only_history(tmp_path):
    bad_epochs = [{"epoch": 1, "train_loss": 0.5}]
    out = plot_learning_curves(
        History(epochs=bad_epochs, stop_reason="completed"), tmp_path / "t.png"
    )
    assert out.read_bytes()[:8] == PNG_SIGNATURE


def test_the_global_style_does_not_leak_in(tmp_path):
    """Optuna's plots switch matplotlib's global style to ggplot; the curves do not change."""
    import matplotlib
    from matplotlib import style

    history = classification_history(30)
    before = plot_learning_curves(history, tmp_path / "before.png").read_bytes()
    with matplotlib.rc_context():
        style.use("ggplot")
        after = plot_learning_curves(history, tmp_path / "after.png").read_bytes()
    assert after == before
