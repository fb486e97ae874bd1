"""mypy passes on the hub (``make lint`` runs it too; this makes ``make test``, and so CI, enforce it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_mypy_reports_no_errors():
    # The configuration is pyproject.toml's [tool.mypy]; about 6 s with no cache, under 1 s with one.
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "hub", "config"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, (
        f"mypy hub config exited with {result.returncode}:\n{result.stdout}{result.stderr}"
    )
