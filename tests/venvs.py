"""Virtual environments for tests that must run outside this checkout's Python: a logged model
loaded where nnexp is not installed, and nnexp installed from its wheel.

An environment that installs packages from the index (``mlflow`` with its dependencies: about
90 packages, 2-3.5 minutes here) is built once per machine and reused: it lives in
``~/.cache/nnexp-tests/<name>-<hash of the Python and the requirements>`` (``NNEXP_TEST_CACHE``
moves it), is complete once a marker file is written last (a half-built one is rebuilt), and a file
lock keeps two test processes from building the same one. Nothing else is ever installed into
it, and the tests that use it check what it lacks (``import nnexp`` fails there).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from nnexp.locks import file_lock


def cache_root() -> Path:
    default = Path.home() / ".cache" / "nnexp-tests"
    return Path(os.environ.get("NNEXP_TEST_CACHE", default))


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def create_venv(path: Path, *, system_site_packages: bool = False) -> Path:
    """``python -m venv`` at ``path`` (with pip); returns its interpreter."""
    args = [sys.executable, "-m", "venv"]
    if system_site_packages:
        args.append("--system-site-packages")
    subprocess.run([*args, str(path)], check=True, capture_output=True, text=True, timeout=300)
    return venv_python(path)


def pip_install(python: Path, *args: str, timeout: float = 1200) -> None:
    """``pip install ARGS`` with ``python``; fail with pip's output if it fails."""
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    if result.returncode != 0:
        raise RuntimeError(f"pip install {' '.join(args)} failed:\n{result.stderr[-4000:]}")


def cached_venv(name: str, requirements: list[str]) -> Path:
    """A virtualenv with exactly ``requirements`` (and their dependencies) installed, reused
    across test sessions; returns the venv folder."""
    key = hashlib.sha256("\n".join([sys.version, *requirements]).encode()).hexdigest()[:12]
    root = cache_root()
    venv = root / f"{name}-{key}"
    done = venv / ".nnexp-complete"
    with file_lock(root / f".{name}-{key}.lock"):
        if done.is_file():
            return venv
        # Built where it will live (a venv's scripts name their interpreter by absolute path);
        # the marker written last says it is complete, so a half-built one is rebuilt.
        shutil.rmtree(venv, ignore_errors=True)
        python = create_venv(venv)
        pip_install(python, *requirements)
        done.write_text("\n".join(requirements) + "\n")
    return venv
