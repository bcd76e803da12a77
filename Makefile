# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: demo test test-quick bench docs clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $@ $(STAMP)

## Generate a synthetic CRM workspace and run every step on DuckDB.
demo: $(STAMP)
	$(VENV)/bin/tierwise demo --out demo-workspace

## Install the test extras and run the whole suite. Two workers on two cores: one OpenMP thread
## each, or LightGBM's thread pools fight over the cores (a 15 s test took 270 s). loadgroup keeps the Spark
## tests (xdist_group "spark") on one worker, so one JVM starts, not two.
test: $(TEST_STAMP)
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -n 2 --dist loadgroup

## A quick local run that skips slow tests, the browser tests and the Spark tests (no JVM to start).
test-quick: $(TEST_STAMP)
	$(PY) -m pytest -q -m "not slow and not browser and not spark"

## Benchmarks (see BENCHMARKS.md); ACCOUNTS and EVENTS scale the workload.
bench: $(TEST_STAMP)
	$(PY) bench/bench_score.py
	$(PY) bench/bench_icp.py
	$(PY) bench/bench_leads.py
	$(PY) bench/bench_rfm.py
	$(PY) bench/bench_api.py
	$(PY) bench/bench_reports.py
	$(PY) bench/bench_territories.py --sizes 100000x100 1000000x1000

## Regenerate the spec reference from the JSON Schema.
docs: $(STAMP)
	$(PY) -m tierwise.spec.reference > docs/spec-reference.md
	$(PY) -m tierwise.datamodel > docs/data-model.md

clean:
	rm -rf $(VENV) demo-workspace .pytest_cache
