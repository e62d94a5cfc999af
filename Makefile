# The two commands: `make demo` and `make test`. Both install what is missing first, so they
# work on a fresh Debian machine as root and are cheap to run again.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.8
APT_PACKAGES := pebble bind9 bind9-dnsutils chromium
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
LSCTL := $(VENV)/bin/lsctl
STAMPS := .make
# Twilio's published OpenAPI description, as the npm package @twilio/cli-core ships it; the
# contract tests hold the client and the sandbox's Twilio emulator to it. Pinned by version and
# by the sha256 of the package, so the contract cannot change under us.
CLI_CORE_VERSION := 9.0.0
CLI_CORE_SHA256 := 9fef3d7234dbce63ff3005a422f46fcf7e3486b369f852f61b3ede41097e5667
OPENAPI_DIR := .cache/twilio-openapi/$(CLI_CORE_VERSION)
OPENAPI_SPEC := $(OPENAPI_DIR)/twilio_messaging_v1.json

BENCH_PACKAGES := certbot python3-certbot-dns-rfc2136 lego dnsperf

.PHONY: help setup setup-drift system python openapi demo test lint typecheck unit bench bench-system clean

help:
	@echo "make demo   set up what is missing, then run lsctl end to end in the local sandbox"
	@echo "make test   set up what is missing, then run ruff, mypy and pytest"
	@echo "make bench  run the benchmarks beside certbot, lego and dnsperf; writes bench/RESULTS.md"
	@echo "make setup  only install: Debian packages ($(APT_PACKAGES)), the locked Python env"
	@echo "            and Twilio's OpenAPI description (npm pack, into $(OPENAPI_DIR))"
	@echo "make setup-drift  only the Python env lsctl drift/renew need (CI, cron)"

setup: system python openapi

# Debian packages, installed only when a binary is missing (apt-get update once, first).
# chromium: the test that renders the drift Markdown as GitHub would and checks its width.
system:
	@missing=""; \
	command -v pebble >/dev/null || missing="$$missing pebble"; \
	{ command -v named >/dev/null || test -x /usr/sbin/named; } || missing="$$missing bind9"; \
	command -v dig >/dev/null || missing="$$missing bind9-dnsutils"; \
	command -v openssl >/dev/null || missing="$$missing openssl"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v python3 >/dev/null && python3 -c 'import venv, ensurepip' 2>/dev/null \
	  || missing="$$missing python3 python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# uv, pinned, in a private tools venv; then the project env exactly as uv.lock says, with
# every default group: the environment `pulumi install` and `pulumi up` build too.
$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q "uv==$(UV_VERSION)"

python: $(STAMPS)/venv

$(STAMPS)/venv: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --python python3
	@mkdir -p $(STAMPS) && touch $@

# Only what `lsctl drift` and `lsctl renew` run on (CI, cron): the locked runtime dependencies,
# no dev tools, no Pulumi, no Debian packages, no OpenAPI download. The next `make setup` syncs
# the full environment again.
setup-drift: $(UV)
	$(UV) sync --frozen --no-dev --python python3
	@rm -f $(STAMPS)/venv

# Fetched once: the messaging v1/v2 descriptions (the Link Shortening operations) and v3 (its
# declared error body, which v1/v2 do not declare). Extracted into a temporary directory and
# moved in last, so an interrupted fetch never leaves a half cache behind.
openapi: $(OPENAPI_SPEC)

$(OPENAPI_SPEC):
	@command -v npm >/dev/null || { echo "npm is missing: run make setup (as root)"; exit 1; }
	rm -rf $(OPENAPI_DIR).tmp && mkdir -p $(OPENAPI_DIR).tmp
	cd $(OPENAPI_DIR).tmp && npm pack --silent --cache $(CURDIR)/.cache/npm @twilio/cli-core@$(CLI_CORE_VERSION) >/dev/null
	echo "$(CLI_CORE_SHA256)  $(OPENAPI_DIR).tmp/twilio-cli-core-$(CLI_CORE_VERSION).tgz" | sha256sum -c --quiet
	tar -xzf $(OPENAPI_DIR).tmp/twilio-cli-core-$(CLI_CORE_VERSION).tgz -C $(OPENAPI_DIR).tmp \
	  $(foreach v,v1 v2 v3,package/src/services/twilio-api/twilio_messaging_$(v).json)
	mkdir -p $(OPENAPI_DIR)
	mv $(OPENAPI_DIR).tmp/package/src/services/twilio-api/twilio_messaging_v2.json \
	   $(OPENAPI_DIR).tmp/package/src/services/twilio-api/twilio_messaging_v3.json $(OPENAPI_DIR)/
	mv $(OPENAPI_DIR).tmp/package/src/services/twilio-api/twilio_messaging_v1.json $@
	rm -rf $(OPENAPI_DIR).tmp

demo: setup
	@bash sandbox/demo.sh

lint: python
	$(VENV)/bin/ruff check .
	$(VENV)/bin/actionlint

typecheck: python
	$(VENV)/bin/mypy

unit: python openapi
	$(VENV)/bin/pytest

test: setup lint typecheck unit

# Benchmarks (never part of `make test`): the peers come from Debian (certbot, lego, dnsperf)
# and, for certbot-dns-route53, from pinned PyPI packages in .bench/peers.
bench-system:
	@missing=""; for p in $(BENCH_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

bench: setup bench-system
	$(VENV)/bin/python -m bench.run_all

clean:
	-$(LSCTL) sandbox down 2>/dev/null
	rm -rf $(STAMPS) $(VENV) $(TOOLS) .sandbox .mypy_cache .ruff_cache .pytest_cache
