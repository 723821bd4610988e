# Quick start: `make run` (server + demo on the embedded store), `make test` (the whole suite).
PY       ?= python3
VENV     := .venv
BIN      := $(VENV)/bin
STATIC   := wasmwatch/web/static
STAMP    := $(VENV)/.installed
HOST     ?= 127.0.0.1
PORT     ?= 8787

.PHONY: install assets run test test-py test-sdk test-dashboard lint browser-deps promtool-deps bench clean

install: $(STAMP) assets

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

assets: sdk/node_modules demo/node_modules dashboard/node_modules
	cd sdk && npm run --silent build
	cd demo && npm run --silent build
	cd dashboard && npm run --silent build
	rm -rf $(STATIC)/sdk $(STATIC)/demo $(STATIC)/dashboard
	mkdir -p $(STATIC)/sdk $(STATIC)/demo $(STATIC)/dashboard
	cp sdk/dist/* $(STATIC)/sdk/
	cp -r demo/dist/. $(STATIC)/demo/
	cp -r dashboard/dist/. $(STATIC)/dashboard/

sdk/node_modules: sdk/package-lock.json
	cd sdk && npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo/node_modules: demo/package-lock.json
	cd demo && npm ci --no-audit --no-fund --loglevel=error
	touch $@

dashboard/node_modules: dashboard/package-lock.json
	cd dashboard && npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: install
	$(BIN)/wasmwatch serve --host $(HOST) --port $(PORT)

# Debian's chromium for the browser tests (never a downloaded browser build)
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi; }

# Debian's prometheus package for promtool (the /metrics conformance test); its daemon stays off
promtool-deps:
	@command -v promtool >/dev/null 2>&1 || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
	    install -y -qq --no-install-recommends prometheus >/dev/null; \
	  if command -v systemctl >/dev/null 2>&1; then $$SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true; fi; }

lint: install
	$(BIN)/ruff check wasmwatch tests bench
	$(BIN)/mypy

test-sdk: install
	cd sdk && npm test --silent

test-dashboard: install
	cd dashboard && npm test --silent

test-py: install browser-deps promtool-deps
	$(BIN)/pytest -q -p no:cacheprovider

test: lint test-sdk test-dashboard test-py

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) sdk/node_modules demo/node_modules dashboard/node_modules sdk/dist demo/dist dashboard/dist \
	  $(STATIC)/sdk $(STATIC)/demo $(STATIC)/dashboard
