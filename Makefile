# Two commands do all the set-up on a fresh machine:
#   make demo   create .venv, install the station, run the demo
#   make test   also install the Debian packages the tests use, lint, type-check, test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test lint check-types system-packages npm-assets install-pi pi-check clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --editable ".[test]"
	touch $(INSTALLED)

demo: $(INSTALLED)
	$(BIN)/station demo

system-packages:
	scripts/ensure-system-packages.sh

# Pinned npm packages (axe-core for the browser tests) into build/npm/, checked by integrity.
npm-assets: system-packages
	scripts/fetch-npm-assets.sh

lint: $(INSTALLED)
	$(BIN)/ruff check .

check-types: $(INSTALLED)
	$(BIN)/mypy

test: $(INSTALLED) system-packages npm-assets lint check-types
	$(BIN)/python -m pytest

install-pi:
	sudo scripts/install-pi.sh

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis data demo.wav demo-report.pdf build

# The Pi install in an emulated Debian bookworm arm64 root (slow: 52 minutes on two cores;
# not part of `make test`). As root.
pi-check:
	scripts/pi-check.sh
