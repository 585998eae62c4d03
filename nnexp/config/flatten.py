"""Flatten a resolved config into dotted keys, the shape MLflow params and sweeps use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def flatten_config(cfg: Any, *, skip: tuple[str, ...] = ("hydra", "launcher")) -> dict[str, Any]:
    """``{"optimizer.lr": 0.01, "model.hidden_sizes": "[16, 16]", ...}`` from a DictConfig.

    Lists stay whole (one param, shown as ``[16, 16]``) so that architectures compare at a
    glance in the MLflow UI. Unset values (``None``: ``data.seed``, ``trainer.batch_size`` for
    full batch, ``sweep`` outside a sweep) are left out rather than logged as the string
    ``"null"``: a param holding ``null`` would read as a value, and a ``sweep`` param would
    collide with a sweep parent's ``sweep.*`` columns in ``mlflow.search_runs``.
    ``nnexp reproduce`` maps the missing keys back to null (:func:`leaf_keys`).
    ``launcher`` (where a sweep's workers run) does not change a run's result: not a param.
    """
    return {key: value for key, value in _flat(cfg, skip).items() if value is not None}


def leaf_keys(cfg: Any, *, skip: tuple[str, ...] = ("hydra", "launcher")) -> list[str]:
    """Every dotted leaf key of ``cfg``, the unset (``None``) ones included."""
    return list(_flat(cfg, skip))


def _flat(cfg: Any, skip: tuple[str, ...]) -> dict[str, Any]:
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
    if isinstance(node, list):
        out[key] = "[" + ", ".join(str(item) for item in node) + "]"
    else:
        out[key] = node
