"""Fixtures for the command-line tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from nnexp_testing import NnexpCommand


@pytest.fixture
def nnexp_cmd(tmp_path: Path) -> NnexpCommand:
    return NnexpCommand(tmp_path)
