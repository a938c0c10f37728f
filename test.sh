#!/usr/bin/env bash
# All tests: set up .venv, then the unit tests of helpers/ and every notebook replayed by nbval.
# Extra arguments go to pytest (e.g. ./test.sh -k tokens).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/bootstrap.sh
unset MUSICGEN_MODE  # the notebooks' committed outputs are from the fast mode
python -m pytest "$@"
