#!/usr/bin/env bash
# The GPU check of issue 29 in one command, from the repository root (what it runs and prints: gpu_check.py):
#   bash benchmarks/gpu_check.sh [--no-peers]   # on a machine with a CUDA GPU, cut at $GPU_CHECK_TIMEOUT s (470)
#   bash benchmarks/gpu_check.sh --dry-run      # the same path on CPU with tiny shapes (tests/test_benchmarks.py)
# The report goes to stdout and, with the study's and the benchmark workers' logs, to $OUT (or --out DIR) if set.
#
# The Pythons: .venv's and benchmarks/.venv-peers' where their torch sees the GPU (a machine that ran `make setup`
# and `make peers`), or for --dry-run. Otherwise, on a machine without network whose python3 holds torch with
# CUDA, they are built from benchmarks/gpu_bundle (made beforehand on a machine with the registries:
# `.venv/bin/python benchmarks/gpu_bundle.py pack`) under $GPU_CHECK_WORK (default /tmp/adapterlib-gpu-check):
# a venv for ours and one for the peers, each with its wheels, and the bundle's tasks and MiniLM.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUNDLE=benchmarks/gpu_bundle
WORK="${GPU_CHECK_WORK:-/tmp/adapterlib-gpu-check}"
DRY_RUN=0
for arg in "$@"; do if [ "$arg" = --dry-run ]; then DRY_RUN=1; fi; done
export PYTHONUNBUFFERED=1

sees_gpu() { "$1" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())' 2>/dev/null; }
usable() { [ -x "$1" ] && { [ "$DRY_RUN" = 1 ] || sees_gpu "$1"; }; }

# bundle_venv NAME [PATH...]: a venv over python3 with the bundle's wheels/NAME, which sees, after its own
# packages, python3's (through site.addsitedir, so their .pth files count too: a venv made with
# --system-site-packages from python3, itself a venv, would see its base interpreter's instead) and PATHs.
bundle_venv() {
  local venv="$WORK/$1" wheels="$BUNDLE/wheels/$1" site; shift
  rm -rf "$venv"
  python3 -m venv --without-pip "$venv"
  site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  python3 -m pip install -q --no-index --no-deps --no-compile --target "$site" "$wheels"/*.whl
  { python3 -c 'import site; print("\n".join(f"import site; site.addsitedir({p!r})" for p in site.getsitepackages()))'
    printf '%s\n' "$@"; } > "$site/gpu_check.pth"
}

PEERS=()
if usable .venv/bin/python; then
  PY=.venv/bin/python
elif [ -d "$BUNDLE" ] && usable "$(command -v python3)"; then
  mkdir -p "$WORK"
  rm -rf "$WORK/cache" "$WORK/model-site"
  python3 benchmarks/gpu_bundle.py install --bundle "$BUNDLE" --into "$WORK"
  bundle_venv ours "$WORK/model-site" "$PWD"
  PY="$WORK/ours/bin/python"
  export ADAPTERLIB_CACHE="${ADAPTERLIB_CACHE:-$WORK/cache}"
else
  echo "gpu_check: no Python whose torch sees a GPU: run \`make setup\` here, or carry $BUNDLE" \
       "(\`.venv/bin/python benchmarks/gpu_bundle.py pack\` on a machine with the registries)" >&2
  exit 2
fi
if usable benchmarks/.venv-peers/bin/python; then
  :  # bench.py's default peer venv
elif [ -d "$BUNDLE/wheels/peers" ] && usable "$(command -v python3)"; then
  bundle_venv peers "$WORK/model-site"
  touch "$WORK/peers/.installed"
  PEERS=(--peers-venv "$WORK/peers")
fi
exec timeout "${GPU_CHECK_TIMEOUT:-470}" "$PY" benchmarks/gpu_check.py ${PEERS[@]+"${PEERS[@]}"} "$@"
