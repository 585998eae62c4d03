"""Where a run came from: git commit, versions, BLAS. Recorded as tags so runs can be reproduced.

Cheap and failure-proof: outside a git checkout, or without git, the fields say "unknown".
"""

from __future__ import annotations

import functools
import platform
import subprocess
from pathlib import Path

import numpy as np

import nnexp

REPO_ROOT = Path(__file__).resolve().parents[1]


@functools.cache
def provenance() -> dict[str, str]:
    """Tags describing the code and numerical stack this process runs with."""
    commit, dirty = _git_state()
    return {
        "git_commit": commit,
        "git_dirty": dirty,
        "nnexp_version": nnexp.__version__,
        "numpy_version": np.__version__,
        "blas": blas_description(),
        "python_version": platform.python_version(),
    }


def blas_description() -> str:
    """The BLAS numpy was built against, e.g. ``scipy-openblas 0.3.29``."""
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name', 'unknown')} {blas.get('version', '')}".strip()
    except Exception:
        return "unknown"


def _git_state() -> tuple[str, str]:
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown", "unknown"
    return commit, "true" if status else "false"
