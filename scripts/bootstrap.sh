#!/usr/bin/env bash
# Create .venv beside the repository's files and install requirements.txt into it, once:
# a later call reinstalls only when requirements.txt or requirements-no-deps.txt has changed.
# Sourced by run.sh and test.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON_BIN="${PYTHON:-python3}"
if ! "$PYTHON_BIN" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "error: Python 3.10 or newer is needed (found: $("$PYTHON_BIN" --version 2>&1)); set PYTHON=/path/to/python3" >&2
  exit 1
fi
if ! "$PYTHON_BIN" -c 'import sys; sys.exit(sys.version_info >= (3, 13))' 2>/dev/null; then
  echo "note: every package has ready-made wheels for Python 3.10-3.12 (tested: 3.11); on $("$PYTHON_BIN" --version 2>&1) some packages (tinysoundfont) have no ready-made wheel and need a C++ compiler to install" >&2
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "Creating the virtual environment in .venv ..."
  "$PYTHON_BIN" -m venv "$VENV"
fi
stamp="$VENV/.requirements.sha256"
# the fingerprint of both requirement files (Python's hashlib: sha256sum is not on every system)
wanted="$(cat "$ROOT/requirements.txt" "$ROOT/requirements-no-deps.txt" | "$VENV/bin/python" -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "Installing requirements.txt and requirements-no-deps.txt into .venv (first time: a few minutes) ..."
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -r "$ROOT/requirements.txt"
  "$VENV/bin/python" -m pip install --quiet --no-deps -r "$ROOT/requirements-no-deps.txt"
  echo "$wanted" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONHASHSEED=0
export MPLBACKEND=Agg
