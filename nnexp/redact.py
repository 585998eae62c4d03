"""Remove credentials from URIs before they reach params, tags, artifacts or the console.

MLflow and Optuna keep ``user:password@`` in URIs verbatim (in params, console links, error
messages); everything nnexp prints or logs goes through :func:`redact` first.
"""

from __future__ import annotations

import re

# scheme://user:password@host -> scheme://user:***@host (the user name is kept: it helps debugging)
_CREDENTIALS = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<secret>[^/\s]+)@"
)
_QUERY_SECRET = re.compile(
    r"(?P<key>[?&](?:password|passwd|pwd|token|secret)=)[^&\s]+", re.IGNORECASE
)

REDACTED = "***"


def redact(text: str) -> str:
    """Return ``text`` with every URI password (and ``?password=`` query value) replaced by ***."""
    if not isinstance(text, str):
        text = str(text)
    text = _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text)
    return _QUERY_SECRET.sub(lambda m: f"{m['key']}{REDACTED}", text)
