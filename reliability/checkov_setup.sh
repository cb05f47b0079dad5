#!/usr/bin/env bash
# Install checkov into its own virtualenv, .venv-checkov/ at the repository root: its
# dependency pins conflict with the project's, so it never goes into .venv.
#
#   bash reliability/checkov_setup.sh        # idempotent: a no-op when already installed
#
# The stamp file .venv-checkov/.installed holds the sha256 of requirements-checkov.txt; a
# changed file (or a missing or broken venv) reinstalls. Quiet unless something fails.
# Environment: PYTHON (default python3), CHECKOV_VENV (default .venv-checkov).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV="${CHECKOV_VENV:-.venv-checkov}"
REQUIREMENTS=requirements-checkov.txt
STAMP="$VENV/.installed"
want="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"

if [[ -x "$VENV/bin/checkov" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
    touch "$STAMP"  # up to date: refresh the stamp's time for make's sake
    exit 0
fi

# A venv left half-built, or built by another Python, is rebuilt from scratch.
if [[ -e "$VENV" ]] && ! "$VENV/bin/python" -c "import sys" 2>/dev/null; then
    rm -rf "$VENV"
fi
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
rm -f "$STAMP"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQUIREMENTS" \
    2> >(grep -v "is ignored: it is neither" >&2)
# It must start, offline: no update check, no platform download.
CKV_SKIP_PACKAGE_UPDATE_CHECK=1 BC_SKIP_MAPPING=1 "$VENV/bin/checkov" --version >/dev/null
echo "$want" >"$STAMP"
