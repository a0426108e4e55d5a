# ExoDeep: `make run` sets up and runs the demo; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Two install stamps, both keyed on pyproject.toml's checksum (a changed pyproject reinstalls):
#   run:  `pip install -e .`, what the window needs (run, demo, installer);
#   test: `pip install -e ".[test]"` plus the local CPU torch wheel (test, lint, test-installer, bench).
# The test install is a superset: it also writes the run stamp, so `make run` after `make test` installs
# nothing, and `make test` after `make run` only adds what is missing (pip skips what is there).
# .installed-<sum> is the single stamp of earlier Makefiles: its install was the test one.
PYPROJECT_SUM := $(shell cksum < pyproject.toml | cut -d' ' -f1)
RUN_STAMP  := $(VENV)/.installed-run-$(PYPROJECT_SUM)
TEST_STAMP := $(VENV)/.installed-test-$(PYPROJECT_SUM)
# For development here: the published weights beside the checkout (never committed).
SHARED_REF := $(wildcard ../shared/reference)
export EXODEEP_MODEL_PATH ?= $(SHARED_REF)
# CPU PyTorch for the Keras-backend tests, where a local wheel exists (PyPI's torch is the CUDA build)
TORCH_WHEEL := $(firstword $(wildcard /opt/wheels/torch-2.13.0*.whl))
# Linux: check (as root with apt-get: install) the system libraries Qt's xcb plugin needs before the
# window opens; exodeep_gui.system_check does nothing when QT_QPA_PLATFORM is offscreen.
QT_SYSTEM_CHECK := $(if $(filter Linux,$(shell uname -s)),$(BIN)/python -m exodeep_gui.system_check)

.PHONY: setup run demo test lint bench clean installer installer-linux test-installer

$(RUN_STAMP): pyproject.toml
	@if [ -f "$(TEST_STAMP)" ] || [ -f $(VENV)/.installed-$(PYPROJECT_SUM) ]; then touch "$@"; else set -e; \
	  test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); \
	  echo "Installing ExoDeep and what its window needs into $(VENV) (first time: a few minutes)"; \
	  $(BIN)/python -m pip install -q --upgrade pip; \
	  $(BIN)/python -m pip install -q -e .; \
	  rm -f $(VENV)/.installed-run-*; touch "$@"; fi

$(TEST_STAMP): pyproject.toml
	if ! [ -f $(VENV)/.installed-$(PYPROJECT_SUM) ]; then set -e; \
	  test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); \
	  $(BIN)/python -m pip install -q --upgrade pip; \
	  $(BIN)/python -m pip install -q -e ".[test]"; \
	  $(if $(TORCH_WHEEL),$(BIN)/python -m pip install -q "$(TORCH_WHEEL)" || echo "torch not installed: its backend tests will skip";) \
	fi
	rm -f $(VENV)/.installed-[0-9]* $(VENV)/.installed-run-* $(VENV)/.installed-test-*
	touch $(RUN_STAMP) $(TEST_STAMP)

setup: $(TEST_STAMP)

run: $(RUN_STAMP)
	$(QT_SYSTEM_CHECK)
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/exodeep-gui --demo

demo: $(RUN_STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/exodeep demo

lint: $(TEST_STAMP)
	$(BIN)/lint-imports

test: $(TEST_STAMP) lint
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -m pytest -q

# A development bundle with this machine's Python (build/installer/ExoDeep-<version>-linux-x86_64.tar.xz)
installer: $(RUN_STAMP)
	bash installer/build.sh $(BIN)/python

# The Linux release archive, built in a Debian 11 root so that it runs on glibc 2.31 and newer (root:
# debootstrap, chroot; about 15 minutes) → build/debian11/ExoDeep-<version>-linux-x86_64.tar.xz
installer-linux:
	$(if $(filter 0,$(shell id -u)),,sudo) installer/linux/build-debian11.sh

# Tests the archive of `make installer` (building it), or EXODEEP_INSTALLER_ARCHIVE=path/to/archive.tar.xz
test-installer: $(TEST_STAMP)
	EXODEEP_TEST_INSTALLER=1 TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -m pytest -q tests/test_installer.py

bench: $(TEST_STAMP)
	bash ../shared/tools/install-reference-exodeepfinder.sh .reference-venv
	$(BIN)/python benchmarks/bench_detect.py --reference-venv .reference-venv

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
