#!/usr/bin/env bash
# Set up bayescale in ./.venv and run the demo or the tests.
#
#   ./setup.sh demo    set up, fit the example runs in data/, print N*, D*, L* with intervals
#   ./setup.sh test    set up, run the test suite
#   ./setup.sh         set up only
#
# Needs Python >= 3.12 (PyMC 6). It looks at $BAYESCALE_PYTHON, python3.13, python3.12,
# python3, and the versions pyenv has installed, and stops with a message if none fits.
set -euo pipefail
cd "$(dirname "$0")"

find_python() {
  local candidates=()
  [ -n "${BAYESCALE_PYTHON:-}" ] && candidates+=("$BAYESCALE_PYTHON")
  candidates+=(python3.13 python3.12 python3)
  local root; root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
  for v in $(ls -1 "$root/versions" 2>/dev/null | grep -E '^3\.(1[2-9]|[2-9][0-9])(\.|$)' | sort -rV); do
    candidates+=("$root/versions/$v/bin/python3")
  done
  for py in "${candidates[@]}"; do
    if command -v "$py" >/dev/null 2>&1 &&
       "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
      command -v "$py"; return 0
    fi
  done
  return 1
}

setup() {
  local stamp=.venv/.bayescale-installed want
  if [ -x .venv/bin/python ] && .venv/bin/python -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
    :
  else
    local py
    if ! py=$(find_python); then
      echo "bayescale needs Python >= 3.12 (PyMC 6 does not run on older versions), and none was found." >&2
      echo "Install one (e.g. 'pyenv install 3.12'), or point BAYESCALE_PYTHON at it, then run this again." >&2
      exit 1
    fi
    echo "setting up .venv with $py ($("$py" --version 2>&1))" >&2
    rm -rf .venv
    "$py" -m venv .venv
  fi
  want=$(cat pyproject.toml | sha256sum | cut -c1-16)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip >&2
    .venv/bin/python -m pip install --quiet -e ".[test]" >&2
    echo "$want" > "$stamp"
  fi
  # bytecode of our own modules, as pip writes it for an installed package: an editable install
  # has none, and where PYTHONDONTWRITEBYTECODE is set every command would compile them anew (0.1 s)
  .venv/bin/python -m compileall -q bayescale >/dev/null
}

setup
case "${1:-}" in
  demo) exec .venv/bin/python -m bayescale.demo "${@:2}" ;;
  test) exec .venv/bin/python -m pytest -q "${@:2}" ;;
  "") echo "ready: .venv/bin/bayescale --help" ;;
  *) echo "usage: ./setup.sh [demo|test] [extra arguments]" >&2; exit 2 ;;
esac
