#!/usr/bin/env bash
# Smoke check: `prefect deploy --all` against a throwaway local Prefect server.
set -euo pipefail
cd "$(dirname "$0")/.."
home="$(mktemp -d)"
port="$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export PREFECT_HOME="$home" DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false
# its own session: on SIGTERM the server signals its whole process group, which must not be ours
setsid .venv/bin/prefect server start --host 127.0.0.1 --port "$port" > "$home/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$home"' EXIT
export PREFECT_API_URL="http://127.0.0.1:$port/api"
for _ in $(seq 1 90); do
  curl -sf "$PREFECT_API_URL/health" >/dev/null 2>&1 && break
  kill -0 $server 2>/dev/null || { cat "$home/server.log" >&2; exit 1; }
  sleep 1
done
.venv/bin/prefect work-pool create liqbrief --type process >/dev/null
.venv/bin/prefect --no-prompt deploy --all >/dev/null
deployments="$(.venv/bin/prefect deployment ls)"
for name in daily-briefing/daily-briefing backfill/backfill extract/extract; do
  grep -q "$name" <<<"$deployments" || { echo "deploy smoke: $name missing" >&2; exit 1; }
done
echo "deploy smoke: prefect deploy --all created daily-briefing, backfill and extract"
