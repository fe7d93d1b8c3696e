#!/usr/bin/env bash
# Set up and run the whole test suite (lint first). Extra arguments go to pytest,
# e.g. scripts/test.sh -m "not server" for the quick, server-free subset.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export DO_NOT_TRACK=1
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest "$@"
