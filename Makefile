# One entry point for every task. `make run` and `make test` set everything up themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install run demo test lint check bench clean translations lock vendor-editor

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("feedsvc needs Python 3.11+, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

## Serve on http://127.0.0.1:8000 (FEEDSVC_BIND=host:port for another) with the scheduler, on SQLite,
## with demo data in an empty store.
run: install
	$(BIN)/feedsvc db upgrade
	$(BIN)/feedsvc serve --demo

## The whole test suite (PostgreSQL tests are skipped, with the reason, if no server answers).
test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy feedsvc
	$(BIN)/deptry .

## requirements.lock: the exact runtime versions the container installs (from a clean venv).
lock:
	rm -rf $(VENV)-lock
	$(PYTHON) -m venv $(VENV)-lock
	$(VENV)-lock/bin/python -m pip install --quiet .
	{ echo "# Exact versions of feedsvc's runtime dependencies, for the container build (pip install -c)."; \
	  echo "# Regenerate with \`make lock\` after changing pyproject.toml's dependencies."; \
	  $(VENV)-lock/bin/python -m pip freeze --exclude feedsvc; } > requirements.lock
	rm -rf $(VENV)-lock

check: lint test

## Benchmarks (see docs/benchmarks.md); needs `wrk` (apt-get install wrk).
bench: install
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .mypy_cache

## Admin UI strings: extract them, merge them into the English catalog, compile it.
translations: install
	$(BIN)/pybabel extract -F babel.cfg --no-location --omit-header --sort-output \
		-o feedsvc/web/translations/messages.pot feedsvc
	$(BIN)/pybabel update -i feedsvc/web/translations/messages.pot -d feedsvc/web/translations
	$(BIN)/pybabel compile -d feedsvc/web/translations

## The admin's article editor (TipTap): bundle the exact versions of tools/editor/package-lock.json
## from npm into feedsvc/web/static/vendor/tiptap/ (tiptap.min.js and LICENSES.txt). Needs Node 20+;
## only the built file is committed, never node_modules.
vendor-editor:
	cd tools/editor && npm ci --no-audit --no-fund && node build.mjs
