# Two commands matter: `make serve` and `make test`. Each creates what it needs.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test bench wsdl clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[test,bench]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/process-engine serve

test: $(STAMP)
	$(BIN)/ruff check engine schemas config rest soap tests
	bash tests/ensure_postgres.sh
	$(BIN)/python -m pytest -q --durations=25

bench: $(STAMP)
	$(BIN)/python -m tests.bench

wsdl: $(STAMP)  ## the published WSDL, from the default settings (soap:address http://127.0.0.1:8080)
	env -u PROCESS_ENGINE_CONFIG -u PE_HOST -u PE_PORT $(BIN)/process-engine wsdl > wsdl/process-engine.wsdl

clean:
	rm -rf $(VENV) *.egg-info
