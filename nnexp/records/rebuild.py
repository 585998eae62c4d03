"""Rebuild a run's config from its MLflow record, and check that the record holds together.

The ``config.yaml`` artifact is the resolved config; merged onto the structured schema
(:class:`nnexp.config.schema.NnexpConfig`) its types are checked again. Without the artifact the
config is rebuilt from the params (dotted keys, values as text), converting each value by the
type the schema gives its key; a schema key with no param was unset (nnexp logs no param for
``None``), so it is rebuilt as null (a key that cannot be null is an error). Either way the params must equal the flattened config exactly as
the run logged them, so an edited artifact or an edited param is caught before anything runs.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Any

from nnexp.errors import NnexpError, first_line
from nnexp.records.record_yaml import RecordRefused

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
    """The run's config from its ``config.yaml`` artifact, else from its params.

    The artifact is read bounded and its strings taken literally (:mod:`.record_yaml`).
    """
    from nnexp.records.record_yaml import MAX_RECORD_BYTES, decode_record

    data = reader.read_bytes(run.run_id, CONFIG_ARTIFACT, MAX_RECORD_BYTES)
    if data is not None:
        text = decode_record(data, _artifact_name(run.run_id))
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
    """The resolved config YAML merged onto the schema (types checked, nothing evaluated)."""
    from omegaconf import OmegaConf

    from nnexp.config.schema import NnexpConfig
    from nnexp.records.record_yaml import load_record_yaml

    data = load_record_yaml(text, _artifact_name(run_id))
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise NnexpError(
            f"{_artifact_name(run_id)} is not a mapping of config keys (it holds "
            f"a {type(data).__name__}): refused"
        )
    try:
        return OmegaConf.merge(OmegaConf.structured(NnexpConfig), OmegaConf.create(data))
    except Exception as exc:
        raise NnexpError(
            f"{CONFIG_ARTIFACT} of run {run_id} does not fit the config schema: {first_line(exc)}"
        ) from None


def config_from_params(params: dict[str, str]) -> Any:
    """The config from dotted params, each value parsed by the schema type of its key."""
    from omegaconf import OmegaConf

    from nnexp.config.flatten import leaf_keys
    from nnexp.config.schema import NnexpConfig

    cfg = OmegaConf.structured(NnexpConfig)
    for key in leaf_keys(cfg):  # unset values are not logged: a missing key is null
        if key not in params and not any(name.startswith(f"{key}.") for name in params):
            try:
                OmegaConf.update(cfg, key, None, merge=False)
            except Exception:
                raise NnexpError(
                    f"param {key} is missing and the config schema does not allow it unset "
                    "(null): the run's params are incomplete"
                ) from None
    for key, text in sorted(params.items()):
        kind = schema_type(key)
        if kind is None:
            raise NnexpError(f"param {key}={text!r} is not a key of the config schema")
        try:
            value = parse_param(text, kind, f"param {key} of the run")
            OmegaConf.update(cfg, key, value, merge=False)
        except RecordRefused:
            raise
        except Exception as exc:
            raise NnexpError(
                f"param {key}={text!r} does not fit the config schema: {first_line(exc)}"
            ) from None
    return cfg


def parse_param(text: str, kind: Any, what: str = "a param") -> Any:
    """``"null"`` -> None (runs recorded before unset values were left out); text for string
    keys; YAML (``[16, 16]``, ``True``, ``0.01``) otherwise.

    What YAML leaves as text (``1e-08``) is converted by OmegaConf to the key's type. Strings
    are literal: a ``${...}`` in a param is text, never evaluated (:func:`.record_yaml.literal`).
    """
    from nnexp.records.record_yaml import literal, load_record_yaml

    if text == "null":
        return None
    if kind is str:
        return literal(text)
    try:
        return load_record_yaml(text, what)  # bounded: a param can hold an alias bomb too
    except RecordRefused:
        raise
    except NnexpError:  # not YAML: OmegaConf converts the text or refuses it
        return literal(text)


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
        if logged == "null" and rebuilt is None:  # recorded before unset values were left out
            continue
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


def _artifact_name(run_id: str) -> str:
    return f"the {CONFIG_ARTIFACT} artifact of run {run_id}"


def _without_none(kind: Any) -> Any:
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        args = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        return args[0] if len(args) == 1 else kind
    return kind
