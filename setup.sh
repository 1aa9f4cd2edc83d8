#!/usr/bin/env bash
# Set up the course in ./.venv and run the default pseudo-labeling job.
#   bash setup.sh                 install, then run `python pseudo_labeling.py`
#   bash setup.sh --install-only  install only (what CI does)
# Re-running is safe: an existing .venv is reused and brought up to date.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
  || { echo "error: Python 3.10 or newer is needed (found $("$PYTHON" --version 2>&1)); set PYTHON=..." >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  echo "creating the virtual environment .venv"
  "$PYTHON" -m venv .venv
fi
echo "installing the course and its dependencies (tested versions from constraints.txt)"
.venv/bin/python -m pip install --quiet --upgrade pip
# PSEUDO_EXTRAS=site,browser adds the optional extras (pyproject.toml) in the same install, as CI does.
.venv/bin/python -m pip install --quiet -c constraints.txt -e ".${PSEUDO_EXTRAS:+[$PSEUDO_EXTRAS]}"
.venv/bin/python -c 'import helpers, torch; print(f"ready: helpers {helpers.__version__}, torch {torch.__version__}, device {helpers.get_device()}")'

if [ "${1:-}" != "--install-only" ]; then
  .venv/bin/python pseudo_labeling.py
  root_flag=""; [ "$(id -u)" = 0 ] && root_flag=" --allow-root"  # JupyterLab refuses root without it
  echo "next: open the course with  .venv/bin/jupyter lab${root_flag} notebooks/"
fi
