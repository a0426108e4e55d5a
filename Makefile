# ExoDeep: `make run` sets up and runs the demo; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# For development here: the published weights beside the checkout (never committed).
SHARED_REF := $(wildcard ../shared/reference)
export EXODEEP_MODEL_PATH ?= $(SHARED_REF)
# CPU PyTorch for the Keras-backend tests, where a local wheel exists (PyPI's torch is the CUDA build)
TORCH_WHEEL := $(firstword $(wildcard /opt/wheels/torch-2.13.0*.whl))

.PHONY: setup run demo test lint bench clean installer test-installer

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	$(if $(TORCH_WHEEL),$(BIN)/python -m pip install -q "$(TORCH_WHEEL)" || echo "torch not installed: its backend tests will skip")
	rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/exodeep-gui --demo

demo: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/exodeep demo

lint: $(STAMP)
	$(BIN)/lint-imports

test: $(STAMP) lint
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -m pytest -q

installer: $(STAMP)
	bash installer/build.sh $(BIN)/python

test-installer: $(STAMP)
	EXODEEP_TEST_INSTALLER=1 TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -m pytest -q tests/test_installer.py

bench: $(STAMP)
	bash ../shared/tools/install-reference-exodeepfinder.sh .reference-venv
	$(BIN)/python benchmarks/bench_detect.py --reference-venv .reference-venv

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
