#!/usr/bin/env bash
# The main job on embedded defaults: bring the local Parquet lake up to date from the
# Binance archive (BTCUSDT, the 30 days before today) and compute the latest complete
# day's liquidation map. Prefect runs in its local SQLite-backed mode; no server to start.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export DO_NOT_TRACK=1
exec .venv/bin/liqbrief daily "$@"
