"""Command lines that nnexp records or prints, and their exact inverse.

Every line that can be pasted into a shell (the ``command`` and ``overrides`` tags of a run, a
sweep's ``re-run it:`` line, ``best.json``, ``trials.csv``) is built here: each word is
shell-quoted (POSIX ``shlex.quote``), so pasting it runs nnexp with exactly these arguments and
nothing else (``$(...)``, backticks, ``;`` and globs stay text), and :func:`split_line` gives the
words back exactly (quotes, backslashes, spaces, ``=``, newlines, unicode).

Secrets are removed from each word *before* quoting (:func:`nnexp.redact.redact`), so a password
holding a quote cannot unbalance the line, and a redacted line still splits.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from nnexp.redact import redact

PROGRAM = "python -m nnexp"


def shell_line(words: Sequence[str]) -> str:
    """``words`` as one shell-safe string (``'model.hidden_sizes=[64,64]'`` is quoted)."""
    return " ".join(shlex.quote(redact(word)) for word in words)


def command_line(words: Sequence[str]) -> str:
    """``python -m nnexp WORDS...``, quoted for the shell; inside a Hydra job started with
    ``--config-dir``, ``hydra.searchpath`` or ``--config-name``, those of the job's config
    flags the words lack first, so that the line composes the same config anywhere
    (:func:`nnexp.config.job_source.with_job_sources`)."""
    from nnexp.config.job_source import with_job_sources

    return f"{PROGRAM} {shell_line(with_job_sources(words))}".strip()


def split_line(line: str) -> list[str]:
    """The words of a line written by :func:`shell_line` (raises ``ValueError`` if unbalanced)."""
    return shlex.split(line)
