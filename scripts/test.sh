#!/usr/bin/env bash
# Runs the whole suite. pytest exit 5 (no tests) is a failure here too.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pytest -q -p no:cacheprovider "$@" tests
