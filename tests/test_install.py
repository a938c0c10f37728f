"""The project as a user installs it: `import helpers` without the test set-up, from any folder.

``scripts/bootstrap.sh`` installs the project into .venv (``pip install -e .``); nothing puts the
repository on ``PYTHONPATH``. These tests start a Jupyter kernel and the command line the way a
user does — from the venv, in a folder outside the repository, with ``PYTHONPATH`` unset — and
check the bootstrap's refusal of an interpreter the pinned packages do not support.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import config

ROOT = config.ROOT


def user_environment() -> dict[str, str]:
    """The environment of a user's shell with .venv activated: no PYTHONPATH."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_a_kernel_started_from_the_venv_imports_helpers_from_any_folder(tmp_path):
    from jupyter_client.manager import KernelManager

    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(tmp_path), env=user_environment(), extra_arguments=["--IPKernelApp.log_level=ERROR"])
    try:
        client = manager.client()
        client.start_channels()
        client.wait_for_ready(timeout=120)
        printed = []

        def keep(message):
            if message["msg_type"] == "stream":
                printed.append(message["content"]["text"])
            elif message["msg_type"] == "error":
                printed.append(f"{message['content']['ename']}: {message['content']['evalue']}")

        code = "import os, sys, helpers.config as c; print(c.ROOT); print(os.getcwd()); print(os.environ.get('PYTHONPATH'))"
        reply = client.execute_interactive(code, output_hook=keep, timeout=120)
        client.stop_channels()
    finally:
        manager.shutdown_kernel(now=True)
    assert reply["content"]["status"] == "ok", printed
    root, cwd, pythonpath = "".join(printed).split()
    assert Path(root) == ROOT and Path(cwd) == tmp_path and pythonpath == "None"


def test_the_command_line_runs_from_any_folder(tmp_path):
    installed = Path(sys.executable).parent / "musicgen"
    assert installed.is_file(), "pip install -e . makes the command musicgen"
    result = subprocess.run([str(installed), "--help"], cwd=tmp_path, env=user_environment(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("usage: musicgen "), result.stderr
    result = subprocess.run([sys.executable, "-m", "helpers", "prepare", "--data", str(ROOT / "data" / "midi"), "--limit", "2"],
                            cwd=tmp_path, env=user_environment(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Used 2 of 2 files" in result.stdout


@pytest.mark.parametrize("version", ["3.10.12", "3.13.1"])
def test_the_bootstrap_refuses_an_unsupported_python_in_one_line(tmp_path, version):
    fake = tmp_path / "python3"  # answers like that interpreter: --version, and the version check fails
    fake.write_text(f"#!/bin/sh\n[ \"$1\" = --version ] && echo 'Python {version}' && exit 0\nexit 1\n")
    fake.chmod(0o755)
    env = {**user_environment(), "PYTHON": str(fake)}
    result = subprocess.run(["bash", "-c", f"source {ROOT / 'scripts' / 'bootstrap.sh'}"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"error: Python 3.11 or 3.12 is needed (found: Python {version}); "
                                     "set PYTHON=/path/to/python3.11 or python3.12")
    assert result.stdout == ""
