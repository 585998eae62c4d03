"""A run's look inside the network: the layer probe, the causes, the pictures, the gradient check.

The glue between :mod:`nnexp.run` and the modules that do the work, so the single-run path
only calls in here: :mod:`nnexp.nn.inspect` measures the layers during ``fit`` (engine, NumPy),
:mod:`nnexp.findings` names causes from the measurements, :mod:`nnexp.inspect_plots` draws
them (in the plot helper process, off the critical path), :mod:`nnexp.gradient_check_run`
checks backprop before training. ``trainer.inspect=false`` turns all of it but the gradient
check off: no probe is made, ``fit`` runs exactly as without it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def make_probe(cfg: Any, model: Any) -> Any:
    """A :class:`~nnexp.nn.inspect.LayerProbe` for the run, or None (``trainer.inspect=false``).

    It probes the epochs the run logs (``tracking.log_every``, which a sweep sets from
    ``sweep.log_every``) and keeps histogram snapshots only when pictures will be drawn.
    """
    if not cfg.trainer.inspect:
        return None
    from nnexp.nn.inspect import LayerProbe

    pictures = bool(cfg.tracking.enabled and cfg.tracking.log_plots)
    return LayerProbe(model, log_every=int(cfg.tracking.log_every), snapshots=pictures)


def gradient_check(cfg: Any, model: Any, splits: Any, recorder: Any = None) -> float | None:
    """Run the gradient check if ``trainer.gradient_check``; return the worst relative error.

    Above the threshold it raises :class:`~nnexp.gradient_check_run.GradientCheckFailed` (one
    line naming the layer) after logging the error to ``recorder``'s run.
    """
    if not cfg.trainer.gradient_check:
        return None
    from nnexp.gradient_check_run import METRIC, GradientCheckFailed, check_model

    check = check_model(model, splits.train.X, splits.train.y)
    failure = check.failure()
    if failure is not None:
        if recorder is not None:
            recorder.log_metrics({METRIC: check.max_error})
        raise GradientCheckFailed(failure)
    return check.max_error


def finish(result: Any, probe: Any, checked: float | None) -> Any:
    """Attach the probe, the findings and the gradient check's metric to ``result``."""
    result.probe = probe
    if probe is not None:
        from nnexp.findings import find_causes
        from nnexp.nn.inspect import layer_activations

        result.findings = find_causes(result.history, layer_activations(result.model))
    if checked is not None:
        from nnexp.gradient_check_run import METRIC

        result.final_metrics[METRIC] = checked
    return result


def finding_tags(result: Any) -> dict[str, str]:
    """``diagnosis.causes`` (all sentences, or ``none``) and one ``diagnosis.cause.*`` tag per
    finding; nothing when the layers were not inspected."""
    if result.probe is None:
        return {}
    tags = {"diagnosis.causes": "; ".join(f.text for f in result.findings) or "none"}
    tags.update({finding.tag_key: finding.text for finding in result.findings})
    return tags


def start_pictures(result: Any, folder: Path) -> Callable[[], list[Path]] | None:
    """Start drawing the run's inside pictures into ``folder`` (network health, histograms,
    decision boundary or fitted curve) in the plot helper; the returned function waits
    (drawing here if the helper failed). None when the layers were not inspected."""
    if result.probe is None:
        return None
    from nnexp import plot_helper
    from nnexp.inspect_plots import picture_inputs

    inputs = picture_inputs(result)
    # the helper forks a child for them and is free for the learning curves meanwhile
    started = plot_helper.call("nnexp.inspect_plots:start_drawing", inputs, str(folder))

    def done() -> list[Path]:
        pids = started() if started is not None else None
        drawn = None
        if pids is not None:
            wait = plot_helper.call("nnexp.inspect_plots:wait_drawing", pids, str(folder))
            drawn = wait() if wait is not None else None
        if drawn is None:
            from nnexp.inspect_plots import draw_run_pictures

            drawn = draw_run_pictures(inputs, str(folder))
        return [Path(path) for path in drawn]

    return done
