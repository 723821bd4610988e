# Quick start: `make run` (server + demo on the embedded store), `make test` (the whole suite).
PY       ?= python3
VENV     := .venv
BIN      := $(VENV)/bin
STATIC   := wasmwatch/web/static
STAMP    := $(VENV)/.installed
HOST     ?= 127.0.0.1
PORT     ?= 8787

.PHONY: install assets run test test-py test-sdk test-dashboard lint browser-deps promtool-deps symbols-deps clickhouse-deps bench clean

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

# Debian's browsers for the browser tests (never a downloaded browser build): chromium, and for
# tests/browser/test_engines.py firefox-esr (WebDriver BiDi) and WebKitGTK's MiniBrowser with
# WebKitWebDriver (webkit2gtk-driver) under Xvfb.
BROWSER_PKGS := chromium firefox-esr webkit2gtk-driver libwebkit2gtk-4.1-0 xvfb
BROWSER_BINS := /usr/bin/chromium /usr/bin/firefox-esr /usr/bin/WebKitWebDriver /usr/bin/Xvfb \
  /usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser
browser-deps:
	@for f in $(BROWSER_BINS); do test -x $$f || missing=1; done; [ -z "$$missing" ] || { \
	  sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
	    install -y -qq $(BROWSER_PKGS) >/dev/null; }

# Debian's prometheus package for promtool (the /metrics conformance test); its daemon stays off
promtool-deps:
	@command -v promtool >/dev/null 2>&1 || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
	    install -y -qq --no-install-recommends prometheus >/dev/null; \
	  if command -v systemctl >/dev/null 2>&1; then $$SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true; fi; }

# clang and lld (wasm32 target) build the symbolication tests' module (tests/symbols/app.c)
symbols-deps:
	@command -v clang >/dev/null 2>&1 && command -v wasm-ld >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends clang lld >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang lld >/dev/null; fi; }

# the ClickHouse store's extra (clickhouse-connect, sqlglot, chdb: the engine in process, ~530 MB)
# for the conformance suite (tests/store/test_conformance.py) and the ClickHouse benchmark
CH_STAMP := $(VENV)/.clickhouse
clickhouse-deps: $(CH_STAMP)
$(CH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,clickhouse]'
	touch $(CH_STAMP)

# real WebAssembly apps from npm for the browser tests (esbuild-wasm)
tests/browser/fixtures/node_modules: tests/browser/fixtures/package-lock.json
	cd tests/browser/fixtures && npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: install clickhouse-deps
	$(BIN)/ruff check wasmwatch tests bench
	$(BIN)/mypy

test-sdk: install
	cd sdk && npm test --silent

test-dashboard: install
	cd dashboard && npm test --silent

test-py: install clickhouse-deps browser-deps promtool-deps symbols-deps tests/browser/fixtures/node_modules
	$(BIN)/pytest -q -p no:cacheprovider

test: lint test-sdk test-dashboard test-py

bench: install clickhouse-deps
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) sdk/node_modules demo/node_modules dashboard/node_modules tests/browser/fixtures/node_modules sdk/dist demo/dist dashboard/dist \
	  $(STATIC)/sdk $(STATIC)/demo $(STATIC)/dashboard
