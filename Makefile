# mmpfcn: the two commands of the README are `make demo` and `make test`.
# Both create .venv and install everything on first use (building mmcv with
# its compiled ops from source, which takes tens of minutes once; pip's wheel
# cache makes later set-ups take about a minute).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.mmpfcn-installed
REQS := requirements/build.txt requirements/mminstall.txt \
        requirements/runtime.txt requirements/tests.txt setup.py
PYTEST_ARGS ?=
# test processes of `make test` (pytest-xdist; 0 runs the tests in one process)
TEST_WORKERS ?= 2
DEMO_ARGS ?=

.PHONY: setup test test-slow demo lint clean-venv

setup: $(STAMP)

$(STAMP): $(REQS)
	@echo "==> [setup] creating the virtual environment $(VENV)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PIP) install --quiet --upgrade "pip>=24,<25"
	@echo "==> [setup] installing $(TORCH) (CPU wheel) and the mmcv build requirements"
	@$(PIP) install --quiet $(TORCH) -r requirements/build.txt
	@if ! $(PY) -c "import mmcv.ops" >/dev/null 2>&1; then \
	  echo "==> [setup] installing mmcv 2.1.0 WITH compiled ops. The first time it is built"; \
	  echo "    from source on this machine: expect 20-40 minutes on 2 cores. pip caches the"; \
	  echo "    wheel, so later set-ups reuse it in seconds. Do not disable pip's cache."; \
	fi
	@MMCV_WITH_OPS=1 FORCE_CUDA=0 $(PIP) install --quiet --no-build-isolation \
	  -r requirements/mminstall.txt -r requirements/runtime.txt -r requirements/tests.txt
	@echo "==> [setup] installing mmpfcn in editable mode"
	@$(PIP) install --quiet --no-deps --no-build-isolation -e .
	@$(PY) -c "import mmcv, mmcv.ops, mmdet, mmengine, torch, numpy, panopticapi; \
	  print('==> [setup] ready: torch', torch.__version__, '| mmcv', mmcv.__version__, \
	  '| mmdet', mmdet.__version__, '| mmengine', mmengine.__version__, '| numpy', numpy.__version__)"
	@touch $(STAMP)

test: setup
	@echo "==> [test] running the test suite on $(TEST_WORKERS) processes (slow end-to-end checks: make test-slow)"
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test-slow: setup
	@echo "==> [test-slow] demo training and overfitting checks (tens of minutes)"
	$(PY) -m pytest -q -m slow $(PYTEST_ARGS)

demo: setup
	@echo "==> [demo] synthetic dataset -> train -> PQ evaluation -> visualisations"
	$(PY) tools/misc/run_demo.py $(DEMO_ARGS)

lint: setup
	$(PY) -m ruff check mmpfcn configs tools tests demo

clean-venv:
	rm -rf $(VENV)
