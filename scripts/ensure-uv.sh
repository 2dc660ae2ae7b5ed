#!/usr/bin/env bash
# uv installs the locked dependencies in seconds; fetch it from PyPI into .tools when missing.
set -euo pipefail
command -v uv >/dev/null 2>&1 && exit 0
[ -x .tools/bin/uv ] && exit 0
python3 -m venv .tools
.tools/bin/pip install --quiet --disable-pip-version-check uv
