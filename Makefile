# NEXUS. `make run` and `make test` set up everything they need on a fresh machine.
SHELL := /bin/bash
PY := .venv/bin/python
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
NEXUS_PORT ?= 8080
export NEXUS_PORT

.PHONY: run test check bench install install-dev fmt clean

.venv/.installed: pyproject.toml uv.lock
	@scripts/ensure-uv.sh
	$(UV) sync --frozen --extra dev
	@touch $@

# Front-end files the server hosts itself (Swagger UI for /docs): fetched by npm from the lock
# file (install scripts off), copied into a git-ignored folder of the package.
VENDOR := src/nexus/core/static/vendor
CONSOLE_VENDOR := src/nexus/console/static/vendor
$(VENDOR)/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/swagger-ui
	cp node_modules/swagger-ui-dist/{swagger-ui-bundle.js,swagger-ui.css,favicon-32x32.png,LICENSE,NOTICE} \
	  $(VENDOR)/swagger-ui/
	rm -rf $(CONSOLE_VENDOR) && mkdir -p $(CONSOLE_VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js node_modules/@picocss/pico/css/pico.min.css $(CONSOLE_VENDOR)/
	cp node_modules/htmx.org/LICENSE $(CONSOLE_VENDOR)/htmx.LICENSE
	cp node_modules/@picocss/pico/LICENSE.md $(CONSOLE_VENDOR)/pico.LICENSE.md
	@touch $@

# Console translations: the .po catalogs are in git, their compiled .mo files are not.
TRANSLATIONS := src/nexus/console/translations
CATALOGS := $(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po)
$(TRANSLATIONS)/%/LC_MESSAGES/messages.mo: $(TRANSLATIONS)/%/LC_MESSAGES/messages.po .venv/.installed
	.venv/bin/pybabel compile -d $(TRANSLATIONS) -D messages -l $*

install-dev: .venv/.installed $(VENDOR)/.installed $(CATALOGS:.po=.mo)

run: install-dev
	NEXUS_DATABASE_URL=$${NEXUS_DATABASE_URL:-sqlite+aiosqlite:///./nexus.db} \
	NEXUS_PUBLIC_BASE_URL=$${NEXUS_PUBLIC_BASE_URL:-http://127.0.0.1:$(NEXUS_PORT)} \
	.venv/bin/nexus serve --dev --port $(NEXUS_PORT)

check: install-dev
	.venv/bin/ruff check src tests migrations benchmarks scripts
	.venv/bin/ruff format --check src tests migrations benchmarks scripts
	.venv/bin/mypy
	.venv/bin/lint-imports

test: install-dev
	scripts/test.sh

bench: install-dev
	scripts/bench.sh

fmt: install-dev
	.venv/bin/ruff format src tests migrations benchmarks scripts
	.venv/bin/ruff check --fix src tests migrations benchmarks scripts

clean:
	rm -rf .venv .tools .pytest_cache .mypy_cache .ruff_cache artifacts
