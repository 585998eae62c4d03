"""Read YAML from a run's record without trusting it: bounded, and never evaluated.

A record can be edited by anyone who can write to the store, and ``reproduce`` reads it. Three
things in such a file would otherwise run away or reach outside the record:

- size: a record larger than :data:`MAX_RECORD_BYTES` is refused before it is parsed (and, for
  an artifact, before it is downloaded when the store reports its size);
- expansion: YAML aliases let 1 KB describe a tree of billions of nodes (an "alias bomb"); PyYAML
  shares aliased nodes, but OmegaConf copies each one, so ``OmegaConf.create`` on such a file
  grows without end. The composed node graph is measured first, each alias counted at its
  expanded size, and refused above :data:`MAX_NODES` nodes, :data:`MAX_DEPTH` levels, or when an
  alias refers to its own ancestor;
- interpolation: OmegaConf evaluates ``${...}`` when a value is read, and resolvers such as
  ``${oc.env:NAME}`` read the environment. nnexp writes records resolved, so every string in a
  record is a literal: :func:`literal` escapes ``${`` so that OmegaConf gives the text back as
  written and evaluates nothing.

Every refusal is one line naming the record and the limit (exit 2).
"""

from __future__ import annotations

import re
from typing import Any

from nnexp.errors import NnexpError, first_line

MAX_RECORD_BYTES = 1_000_000
MAX_NODES = 20_000
MAX_DEPTH = 64

_INTERPOLATION = re.compile(r"(\\*)\$\{")


class RecordRefused(NnexpError):
    """A record over a limit (size, expansion, depth) or not UTF-8: never parsed further."""


def decode_record(data: bytes, what: str) -> str:
    """``data`` as UTF-8 text, or one line saying why not (size, encoding)."""
    if len(data) > MAX_RECORD_BYTES:
        raise RecordRefused(
            f"{what} is larger than {MAX_RECORD_BYTES} bytes, the limit for a record: refused"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordRefused(
            f"{what} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}): "
            "refused"
        ) from None


def load_record_yaml(text: str, what: str) -> Any:
    """Plain Python data (dicts, lists, scalars) from YAML ``text``, bounded, strings literal."""
    import yaml

    if len(text.encode("utf-8", "surrogatepass")) > MAX_RECORD_BYTES:
        raise RecordRefused(
            f"{what} is larger than {MAX_RECORD_BYTES} bytes, the limit for a record: refused"
        )
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        check_expansion(node, what)
        data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise NnexpError(f"{what} is not valid YAML: {first_line(exc)}") from None
    except RecursionError:
        raise RecordRefused(
            f"{what} nests deeper than {MAX_DEPTH} levels, the limit for a record: refused"
        ) from None
    finally:
        loader.dispose()
    return literal(data)


def check_expansion(root: Any, what: str) -> int:
    """The number of nodes ``root`` expands to (aliases at full size); refuse past the limits.

    Iterative and memoised by node identity, so an alias bomb is measured in time linear in its
    *unique* nodes, never expanded.
    """
    import yaml

    sizes: dict[int, int] = {}
    in_progress: set[int] = set()
    stack: list[tuple[Any, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        children = _children(node, yaml)
        if done:
            in_progress.discard(key)
            total = 1 + sum(sizes[id(child)] for child in children)
            if total > MAX_NODES:
                raise RecordRefused(
                    f"{what} expands to more than {MAX_NODES} YAML nodes (aliases counted at "
                    "their expanded size), the limit for a record: refused"
                )
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in in_progress:
            raise RecordRefused(f"{what} holds a YAML alias to its own ancestor: refused")
        if depth > MAX_DEPTH:
            raise RecordRefused(
                f"{what} nests deeper than {MAX_DEPTH} levels, the limit for a record: refused"
            )
        in_progress.add(key)
        stack.append((node, depth, True))
        for child in children:
            if id(child) in in_progress:
                raise RecordRefused(f"{what} holds a YAML alias to its own ancestor: refused")
            if id(child) not in sizes:
                stack.append((child, depth + 1, False))
    return sizes[id(root)]


def literal(value: Any) -> Any:
    """``value`` with every string escaped for OmegaConf, so ``${...}`` is text, not evaluated.

    OmegaConf reads ``\\${`` as a literal ``${`` and ``\\\\`` before ``${`` as one backslash;
    doubling the backslashes that precede ``${`` and adding one gives the string back exactly.
    """
    if isinstance(value, str):
        return _INTERPOLATION.sub(lambda m: m[1] * 2 + "\\${", value)
    if isinstance(value, dict):
        return {k: literal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [literal(v) for v in value]
    return value


def _children(node: Any, yaml: Any) -> list[Any]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []
