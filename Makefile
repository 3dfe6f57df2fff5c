# The two commands a newcomer needs: `make run` and `make test`.
# Setup is idempotent: Debian packages, a virtualenv in .venv, the package and its
# dependencies, and the pinned tools (kubectl 1.20) under .tools/.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kubepy-setup

.PHONY: run test setup clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh
	touch $(STAMP)

run: setup
	$(BIN)/kubepy server $(ARGS)

test: setup
	bash scripts/test.sh

clean:
	rm -rf $(VENV) .tools
