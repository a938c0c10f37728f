#!/usr/bin/env bash
# The main job: set up .venv, then run the whole pipeline in the default (fast) mode.
# Leaves the executed notebooks in outputs/notebooks/ and the generated music in outputs/.
# MUSICGEN_MODE=full ./run.sh uses the chapter's sizes instead.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/bootstrap.sh
python scripts/run_notebooks.py "$@"
