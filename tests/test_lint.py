"""The linter CI runs: ruff, with the settings in pyproject.toml, over the code, tests and notebooks."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from helpers import config


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is pinned in requirements.txt: run ./test.sh (or pip install -r requirements.txt)"
    result = subprocess.run([ruff, "check", "--no-cache", "--output-format", "concise", "."], cwd=config.ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
