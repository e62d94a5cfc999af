# The two commands: `make demo` and `make test`. Both install what is missing first, so they
# work on a fresh Debian machine as root and are cheap to run again.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.8
APT_PACKAGES := pebble bind9 bind9-dnsutils
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
LSCTL := $(VENV)/bin/lsctl
STAMPS := .make

.PHONY: help setup system python demo test lint typecheck unit clean

help:
	@echo "make demo   set up what is missing, then run lsctl end to end in the local sandbox"
	@echo "make test   set up what is missing, then run ruff, mypy and pytest"
	@echo "make setup  only install: Debian packages ($(APT_PACKAGES)) and the locked Python env"

setup: system python

# Debian packages, installed only when a binary is missing (apt-get update once, first).
system:
	@missing=""; \
	command -v pebble >/dev/null || missing="$$missing pebble"; \
	{ command -v named >/dev/null || test -x /usr/sbin/named; } || missing="$$missing bind9"; \
	command -v dig >/dev/null || missing="$$missing bind9-dnsutils"; \
	command -v openssl >/dev/null || missing="$$missing openssl"; \
	command -v python3 >/dev/null && python3 -c 'import venv, ensurepip' 2>/dev/null \
	  || missing="$$missing python3 python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# uv, pinned, in a private tools venv; then the project env exactly as uv.lock says.
$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q "uv==$(UV_VERSION)"

python: $(STAMPS)/venv

$(STAMPS)/venv: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --all-extras --python python3
	@mkdir -p $(STAMPS) && touch $@

demo: setup
	@bash sandbox/demo.sh

lint: python
	$(VENV)/bin/ruff check .

typecheck: python
	$(VENV)/bin/mypy

unit: python
	$(VENV)/bin/pytest

test: setup lint typecheck unit

clean:
	-$(LSCTL) sandbox down 2>/dev/null
	rm -rf $(STAMPS) $(VENV) $(TOOLS) .sandbox .mypy_cache .ruff_cache .pytest_cache
