#!/usr/bin/env bash
# Create .venv beside the repository's files, install the pinned requirements.txt into it and
# the project itself (`pip install -e .`, so `import helpers` works in any kernel, folder or
# front end started from .venv), once: a later call reinstalls only when requirements.txt,
# requirements-no-deps.txt or pyproject.toml has changed. Sourced by run.sh and test.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON_BIN="${PYTHON:-python3}"
# Python 3.11 and 3.12 only: numpy 2.4, pandas 3 and music21 10 need 3.11 or newer; tinysoundfont
# has no ready-made wheel for 3.13 (see "Platforms" in README.md).
if ! version="$("$PYTHON_BIN" -c 'import sys; print("%d.%d" % sys.version_info[:2]); sys.exit(not ((3, 11) <= sys.version_info[:2] <= (3, 12)))' 2>/dev/null)"; then
  echo "error: Python 3.11 or 3.12 is needed (found: $("$PYTHON_BIN" --version 2>&1 || echo "no $PYTHON_BIN")); set PYTHON=/path/to/python3.11 or python3.12" >&2
  exit 1
fi
if [ -x "$VENV/bin/python" ] && [ "$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" != "$version" ]; then
  echo "note: .venv was made with another Python; using it as it is (delete .venv to start again with Python $version)" >&2
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "Creating the virtual environment in .venv (Python $version) ..."
  "$PYTHON_BIN" -m venv "$VENV"
fi
stamp="$VENV/.requirements.sha256"
# the fingerprint of what is installed (Python's hashlib: sha256sum is not on every system)
wanted="$(cat "$ROOT/requirements.txt" "$ROOT/requirements-no-deps.txt" "$ROOT/pyproject.toml" | "$VENV/bin/python" -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "Installing requirements.txt, requirements-no-deps.txt and the project into .venv (first time: a few minutes) ..."
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -r "$ROOT/requirements.txt"
  "$VENV/bin/python" -m pip install --quiet --no-deps -r "$ROOT/requirements-no-deps.txt"
  # setuptools explains editable installs at length on stderr: shown only when the install fails
  if ! "$VENV/bin/python" -m pip install --quiet --no-deps --editable "$ROOT" 2>"$VENV/.install-project.log"; then
    cat "$VENV/.install-project.log" >&2
    exit 1
  fi
  echo "$wanted" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
export PYTHONHASHSEED=0
export MPLBACKEND=Agg
