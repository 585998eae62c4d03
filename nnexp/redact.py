"""Remove credentials from URIs before they reach params, tags, artifacts or the console.

MLflow and Optuna keep ``user:password@`` in URIs verbatim (in params, console links, error
messages); everything nnexp prints or logs goes through :func:`redact` first. The places where
that is enforced once for everything (not per call site) are the console
(:mod:`nnexp.redacted_output`), every MLflow write (:mod:`nnexp.tracking.client`) and the Optuna
attributes nnexp sets (:func:`redact_value`).

The forms recognised, each also with Hydra's escaping (``http\\://user\\:pw@host``: a multirun
job's overrides are written that way), with doubled backslashes (the same text inside JSON) and
inside shell quotes:

- ``scheme://user:password@host`` -> ``scheme://user:***@host`` (the user name is kept: it
  helps debugging);
- ``scheme://TOKEN@host`` (no password) -> ``scheme://***@host``: a lone user name may be a
  token, so it is redacted whole, as pip does;
- a query or keyword parameter whose name says it holds a secret (``?password=``,
  ``&client_secret=``, ``;sslpassword=``, ``?X-Amz-Signature=``, ``api_key=``...) -> ``***``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "***"

_ESC = r"\\*"  # Hydra's escape (\:) and its JSON form (\\:) before a separator
# The secret runs to the last '@' before a '/', a space or a quote; a backslash-escaped character
# (Hydra's '\ ', '\,' ...) belongs to it.
_CREDENTIALS = re.compile(
    rf"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*{_ESC}://)"
    rf"(?P<user>(?:\\.|[^:/@\s'\"\\])*)(?P<colon>{_ESC}:)"
    r"(?P<secret>(?:\\.|[^/\s\"\\])+?)@(?=[^@/\s'\"]*(?:[/\s'\"]|$))"
)
# A user name without a password may be a token (``https://TOKEN@host``, GitHub's and
# Databricks' form): redacted whole, as pip's ``redact_auth_from_url`` does.
_LONE_USER = re.compile(
    rf"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*{_ESC}://)"
    r"(?:\\[^:\\]|[^:/@\s'\"\\])+@(?=[^@/\s'\"]*(?:[/\s'\"]|$))"
)
_SECRET_WORDS = (
    "password|passwd|pwd|pass|secret|token|api_?key|apikey|access_?key|private_?key|"
    "signature|sig|credential|credentials|auth"
)
# A parameter name ending in a secret word (client_secret, sslpassword, X-Amz-Signature), after
# '?', '&', ';' or the start of a word (libpq's "host=h password=pw"); the value runs to the next
# separator. Quotes end it too, so a shell-quoted line keeps its closing quote.
_QUERY_SECRET = re.compile(
    rf"(?P<key>(?:(?<=[?&;,+\s'\"])|^)[\w.\-]*?(?:{_SECRET_WORDS}){_ESC}=)"
    r"(?:\\.|[^&;\s'\"\\])+",
    re.IGNORECASE,
)


def redact(text: Any) -> str:
    """Return ``text`` with every URI password (and ``?password=`` query value) replaced by ***."""
    if not isinstance(text, str):
        text = str(text)
    if "@" in text:
        text = _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}{m['colon']}{REDACTED}@", text)
        text = _LONE_USER.sub(lambda m: f"{m['scheme']}{REDACTED}@", text)
    if "=" in text:
        text = _QUERY_SECRET.sub(lambda m: f"{m['key']}{REDACTED}", text)
    return text


def redact_value(value: Any) -> Any:
    """``value`` with :func:`redact` applied to every string in it (dicts, lists, tuples)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact_value(k): redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(v) for v in value)
    return value
