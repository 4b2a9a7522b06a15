#!/usr/bin/env bash
# Install everything narcwatch needs on a fresh Debian machine (root), idempotently:
# the Debian packages the product uses, a virtualenv with the Python packages, and the
# dashboard's front-end packages from the npm registry. Safe to run again: it only
# installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(chromium tor privoxy microsocks redis-server)
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3

missing=()
for pkg in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
# Tor and privoxy are launched by narcwatch (or by ops/ units) with our own configs,
# never as the distribution's system services on a crawl machine.

if [[ ! -x .venv/bin/python ]]; then
  echo "bootstrap: creating virtualenv .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.narcwatch-installed
if [[ ! -f $stamp || pyproject.toml -nt $stamp || setup.py -nt $stamp ]]; then
  echo "bootstrap: installing Python packages"
  .venv/bin/pip install -q --disable-pip-version-check --upgrade pip setuptools wheel
  .venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
  touch "$stamp"
fi

if [[ -f dashboards/package.json ]] && command -v npm >/dev/null; then
  if [[ ! -d dashboards/node_modules || dashboards/package.json -nt dashboards/node_modules ]]; then
    echo "bootstrap: installing dashboard front-end packages"
    (cd dashboards && npm ci --no-audit --no-fund --loglevel=error 2>/dev/null || npm install --no-audit --no-fund --loglevel=error)
    touch dashboards/node_modules
  fi
fi
echo "bootstrap: ready (.venv/bin/narcwatch)"
