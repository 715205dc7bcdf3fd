#!/usr/bin/env bash
# The test suite on a fresh Debian machine, in one command: Debian's chromium (the report's
# browser test drives it) when it is absent, a virtual environment in .venv (kept when it
# exists), the package with its test extras, then pytest. Arguments go to pytest.
# Installing chromium needs root (as in CI) or sudo.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "chromium is absent: installing Debian's chromium (apt-get)" >&2
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y chromium
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install '.[test]'
exec .venv/bin/python -m pytest "$@"
