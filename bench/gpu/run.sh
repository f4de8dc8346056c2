#!/usr/bin/env bash
# GPU readiness benchmark, from a fresh clone plus bench/gpu/wheels/ (made by `make gpu-wheels`):
#   bash bench/gpu/run.sh OUT [bench/gpu/run.py options]
# Installs the wheels with --no-index --no-deps into a private folder (the machine's own torch and
# transformers stay as they are), then runs bench/gpu/run.py on this clone's source. <= 8 minutes
# on one H100/H200; writes OUT/gpu_bench.json and OUT/gpu_bench.md.
set -euo pipefail
OUT=${1:?usage: bash bench/gpu/run.sh OUT [--budget-s S] [--only PREFIXES]}
shift
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PY=${PYTHON:-python3}
WHEELS="$ROOT/bench/gpu/wheels"
SITE=$(mktemp -d "${TMPDIR:-/tmp}/slmscale-gpu-site.XXXXXX")
trap 'rm -rf "$SITE"' EXIT
if [ -f "$WHEELS/requirements.txt" ]; then
  "$PY" -m pip install --quiet --disable-pip-version-check --no-index --no-deps --find-links "$WHEELS" \
    --target "$SITE" -r "$WHEELS/requirements.txt"
elif ! "$PY" -c "import pydantic, typer, rich, accelerate" 2>/dev/null; then
  echo "error: $WHEELS/requirements.txt not found and pydantic/typer/rich/accelerate are not installed;" \
       "run 'make gpu-wheels' where there is network and copy bench/gpu/wheels/ into this clone" >&2
  exit 2
fi
export PYTHONPATH="$ROOT/src:$SITE${PYTHONPATH:+:$PYTHONPATH}"
"$PY" "$ROOT/bench/gpu/run.py" "$OUT" "$@"
