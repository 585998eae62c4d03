"""Flatten a resolved config into dotted keys, the shape MLflow params and sweeps use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def flatten_config(cfg: Any, *, skip: tuple[str, ...] = ("hydra", "launcher")) -> dict[str, Any]:
    """``{"optimizer.lr": 0.01, "model.hidden_sizes": "[16, 16]", ...}`` from a DictConfig.

    Lists stay whole (one param, shown as ``[16, 16]``) so that architectures compare at a
    glance in the MLflow UI; ``None`` becomes the string ``"null"`` as on the command line.
    ``launcher`` (where a sweep's workers run) does not change a run's result: not a param.
    """
    from omegaconf import OmegaConf

    container = OmegaConf.to_container(cfg, resolve=True) if not isinstance(cfg, Mapping) else cfg
    flat: dict[str, Any] = {}
    _walk(container, "", flat, skip)
    return flat


def _walk(node: Any, prefix: str, out: dict[str, Any], skip: tuple[str, ...]) -> None:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if not prefix and key in skip:
                continue
            _walk(value, f"{prefix}{key}.", out, skip)
        return
    key = prefix[:-1]
    if node is None:
        out[key] = "null"
    elif isinstance(node, list):
        out[key] = "[" + ", ".join(str(item) for item in node) + "]"
    else:
        out[key] = node
