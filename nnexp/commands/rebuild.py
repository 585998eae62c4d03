"""Rebuild a run's config from its MLflow record, and check that the record holds together.

The ``config.yaml`` artifact is the resolved config; merged onto the structured schema
(:class:`nnexp.config.schema.NnexpConfig`) its types are checked again. Without the artifact the
config is rebuilt from the params (dotted keys, values as text), converting each value by the
type the schema gives its key. Either way the params must equal the flattened config exactly as
the run logged them, so an edited artifact or an edited param is caught before anything runs.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Any

from nnexp.errors import NnexpError

CONFIG_ARTIFACT = "config.yaml"
MAX_PARAM_LENGTH = 6000  # what nnexp.tracking.recorder.RunRecorder.log_params keeps


@dataclass
class RebuiltConfig:
    """The config of a run and where it came from (``config.yaml artifact`` or ``params``)."""

    cfg: Any
    source: str


#: Config keys added after runs were already being recorded, with the value that does what
#: nnexp did before the key existed: a run whose params lack the key is replayed with it (a
#: run recorded before ``trainer.inspect`` logged no layer statistics), and the missing param
#: is not an inconsistency of its record.
KEYS_ADDED_LATER: dict[str, object] = {"trainer.inspect": False, "trainer.gradient_check": False}


def rebuild_config(reader: Any, run: Any) -> RebuiltConfig:
    """The run's config from its ``config.yaml`` artifact, else from its params."""
    text = reader.read_text(run.run_id, CONFIG_ARTIFACT)
    if text is not None:
        rebuilt = RebuiltConfig(config_from_yaml(text, run.run_id), f"{CONFIG_ARTIFACT} artifact")
    elif run.params:
        rebuilt = RebuiltConfig(config_from_params(run.params), "params (no config.yaml artifact)")
    else:
        rebuilt = None
    if rebuilt is not None:
        from omegaconf import OmegaConf

        for key, before in KEYS_ADDED_LATER.items():
            if run.params and key not in run.params:  # recorded before the key existed
                OmegaConf.update(rebuilt.cfg, key, before, merge=False)
        return rebuilt
    raise NnexpError(
        f"run {run.run_id} has neither a {CONFIG_ARTIFACT} artifact nor params: "
        "it was not recorded by an nnexp run"
    )


def config_from_yaml(text: str, run_id: str) -> Any:
    """The resolved config YAML merged onto the schema (types checked)."""
    from omegaconf import OmegaConf

    from nnexp.config.schema import NnexpConfig

    try:
        return OmegaConf.merge(OmegaConf.structured(NnexpConfig), OmegaConf.create(text))
    except Exception as exc:
        raise NnexpError(
            f"{CONFIG_ARTIFACT} of run {run_id} does not fit the config schema: {_first_line(exc)}"
        ) from None


def config_from_params(params: dict[str, str]) -> Any:
    """The config from dotted params, each value parsed by the schema type of its key."""
    from omegaconf import OmegaConf

    from nnexp.config.schema import NnexpConfig

    cfg = OmegaConf.structured(NnexpConfig)
    for key, text in sorted(params.items()):
        kind = schema_type(key)
        if kind is None:
            raise NnexpError(f"param {key}={text!r} is not a key of the config schema")
        try:
            OmegaConf.update(cfg, key, parse_param(text, kind), merge=False)
        except Exception as exc:
            raise NnexpError(
                f"param {key}={text!r} does not fit the config schema: {_first_line(exc)}"
            ) from None
    return cfg


def parse_param(text: str, kind: Any) -> Any:
    """``"null"`` -> None; text for string keys; YAML (``[16, 16]``, ``True``, ``0.01``) otherwise.

    What YAML leaves as text (``1e-08``) is converted by OmegaConf to the key's type.
    """
    import yaml

    if text == "null":
        return None
    if kind is str:
        return text
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def schema_type(key: str) -> Any:
    """The schema's type for dotted ``key`` (Optional unwrapped), or None if there is no such key."""
    from nnexp.config.schema import NnexpConfig

    node: Any = NnexpConfig
    for part in key.split("."):
        if not dataclasses.is_dataclass(node):
            return None
        hints = typing.get_type_hints(node)
        if part not in hints:
            return None
        node = _without_none(hints[part])
    return node


def record_mismatch(cfg: Any, params: dict[str, str]) -> str | None:
    """How the params differ from the flattened config (first key), or None if they agree."""
    from nnexp.config.flatten import flatten_config
    from nnexp.redact import redact

    flat = {
        key: redact(str(value))[:MAX_PARAM_LENGTH] for key, value in flatten_config(cfg).items()
    }
    for key in sorted(set(flat) | set(params)):
        logged, rebuilt = params.get(key), flat.get(key)
        if logged is None and key in KEYS_ADDED_LATER and rebuilt == str(KEYS_ADDED_LATER[key]):
            continue
        if logged != rebuilt:
            if logged is None:
                return f"{key} is in {CONFIG_ARTIFACT} ({rebuilt!r}) but was not logged as a param"
            if rebuilt is None:
                return f"param {key}={logged!r} is not in {CONFIG_ARTIFACT}"
            return f"param {key}={logged!r} but {CONFIG_ARTIFACT} has {key}={rebuilt!r}"
    return None


@dataclass
class DataCheck:
    """The splits rebuilt from the config against the recorded fingerprints."""

    fingerprint: str
    checked: list[str]
    mismatch: str | None


def check_data(cfg: Any, tags: dict[str, str]) -> DataCheck:
    """Rebuild the splits and compare their fingerprints with the ``data.fingerprint*`` tags."""
    from nnexp.build import build_splits

    _, splits = build_splits(cfg.data, int(cfg.seed))
    checked = []
    parts = [("data.fingerprint", "combined", splits)]
    for name in ("train", "val", "test"):
        split = getattr(splits, name, None)
        parts.append((f"data.fingerprint.{name}", name, split))
    for tag, name, part in parts:
        recorded = tags.get(tag)
        if recorded is None:
            continue
        actual = None if part is None else part.fingerprint
        if actual != recorded:
            return DataCheck(
                splits.fingerprint,
                checked,
                f"data fingerprint ({name}) is {actual} now but the run recorded {recorded}: "
                "the data set or its split changed",
            )
        checked.append(name)
    return DataCheck(splits.fingerprint, checked, None)


def _without_none(kind: Any) -> Any:
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        args = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        return args[0] if len(args) == 1 else kind
    return kind


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
