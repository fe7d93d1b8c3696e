#!/usr/bin/env bash
# Idempotent set-up: a project-local virtualenv with the pinned dependency tree.
# Re-running is cheap: it reinstalls only when pyproject.toml or requirements.lock changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "liqbrief needs Python 3.11 (found $("$PYTHON" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi

# Debian packages: WeasyPrint's Pango/HarfBuzz, fonts, and poppler-utils (pdftotext/pdftoppm
# read the PDF back in the tests). Installed only when missing; needs root or sudo.
DEB_PACKAGES="libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core poppler-utils"
missing=""
for pkg in $DEB_PACKAGES; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  echo "installing Debian packages:$missing" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
stamp=".venv/.liqbrief-installed"
want="$(cat pyproject.toml requirements.lock | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -c requirements.lock -e ".[test]"
  echo "$want" > "$stamp"
fi

# Prefect runs offline, with its state inside the project (see prefect.toml).
export DO_NOT_TRACK=1
