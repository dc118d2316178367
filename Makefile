# The two set-up commands (see README): `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATE ?= $(shell date -u +%F)

.PHONY: run test bench lock clean-data

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)  ## clean, dedup and publish seeds/ into ./data
	$(BIN)/cleanwire run --source seeds --dest data --date $(DATE)

test: $(STAMP)  ## the whole test suite
	$(BIN)/python -m pytest

bench: $(STAMP)  ## the benchmarks (installs their extra baselines first)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,bench]'
	$(BIN)/python -m bench.noise
	$(BIN)/python -m bench.dedup
	$(BIN)/python -m bench.encoding

lock:  ## refresh constraints.txt from the current venv after changing pyproject.toml
	$(BIN)/python -m pip freeze --exclude-editable --disable-pip-version-check | grep -v '^-e ' > constraints.txt

clean-data:
	rm -rf data
