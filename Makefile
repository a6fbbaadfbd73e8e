# Haolin: `make run` starts the platform, `make test` runs the suite. Needs only Python 3.11+.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install migrate db-start db-stop clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

# WORKERS=2 (make run WORKERS=2): uvicorn workers per process; GATEWAY_WORKERS, CASES_WORKERS... for one.
# REPLICAS=2: each service as two processes (the second at its port + 10); CASES_REPLICAS... for one.
run: $(STAMP)
	$(PY) -m ops.run

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

migrate: $(STAMP)
	$(PY) -m ops.migrate

db-start: $(STAMP)
	$(PY) -m ops.pg start

db-stop: $(STAMP)
	$(PY) -m ops.pg stop

clean:
	rm -rf $(VENV)

# A demo province through the running platform's API (start `make run` first, in another terminal).
# DEMO_SIZE=medium for more; the demo users' password is printed at the end.
.PHONY: demo
demo: $(STAMP)
	$(VENV)/bin/haolin demo --size $(or $(DEMO_SIZE),small)

# The benchmark suite (bench/, docs/performance.md): SCALE=tiny|small|province. Not part of `make test`.
.PHONY: bench
SCALE ?= small
bench: $(STAMP)
	$(PY) -m bench run --scale $(SCALE) $(BENCH_ARGS)
