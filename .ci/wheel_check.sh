#!/usr/bin/env bash
# Build the wheel, install it into a fresh venv whose dependencies are those of .venv (no
# network needed), and fit every built-in law from there, outside the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.venv/bin/python -m pip wheel --quiet --no-deps --no-build-isolation -w "$work/dist" . >&2
.venv/bin/python -m venv "$work/venv"
deps=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
site=$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# the dependencies of .venv, as a plain path: its editable bayescale (a .pth hook there) stays out
echo "$deps" > "$site/bayescale_ci_deps.pth"
"$work/venv/bin/python" -m pip install --quiet --no-deps --no-index "$work"/dist/bayescale-*.whl
cp .ci/wheel_fit_every_law.py "$work/"
cd "$work" && BAYESCALE_CACHE="$work/cache" "$work/venv/bin/python" wheel_fit_every_law.py
