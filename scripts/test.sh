#!/usr/bin/env bash
# Set up and run the whole test suite (lint first) on two pytest-xdist workers, a test
# module per worker at a time (module fixtures stay whole; 12.9-13.6 min against 17-19 serial on
# this 2-core machine). Extra arguments go to pytest, e.g. scripts/test.sh -m "not server"
# for the quick, server-free subset, or -n 0 to run in one process.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export DO_NOT_TRACK=1
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest -n 2 --dist loadfile "$@"
