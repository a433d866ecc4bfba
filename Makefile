# Warble: `make run` serves it, `make test` checks it. Both install what they need first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
BIND ?= 127.0.0.1:8000

.PHONY: run test lint format migrate vnu screenshots bench soak clean

# The runtime set, pinned in requirements.lock (regenerate: see README, "Dependencies").
$(BIN)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# The runtime set plus the test and lint tools, pinned in requirements-dev.lock.
$(BIN)/.dev-installed: requirements-dev.lock $(BIN)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.lock
	touch $@

migrate: $(BIN)/.installed
	$(BIN)/warble db upgrade

# Browsers drop Secure cookies over plain http, so a loopback bind turns them off by default.
# BASE_URL (the absolute URLs of the API and feeds) defaults to where this server listens.
run: migrate
	@case "$(BIND)" in 127.*|localhost:*|\[::1\]:*) secure=false ;; *) secure=true ;; esac; \
	SECURE_COOKIES=$${SECURE_COOKIES:-$$secure} BASE_URL=$${BASE_URL:-http://$(BIND)} \
	$(BIN)/warble serve --config hypercorn.toml --bind "$(BIND)"

# ruff for style, mypy (strict, on app/: see [tool.mypy] in pyproject.toml) for types.
lint: $(BIN)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(BIN)/.dev-installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The W3C's Nu Html Checker for tests/test_html.py, pinned here as the lock files pin Python
# packages; npm fetches it into the ignored .vnu/ folder. --ignore-scripts: its install script
# would download a Java runtime, and Debian's default-jre-headless is used instead. Without npm
# the HTML tests skip (under CI=true they fail).
VNU_VERSION := 26.9.27

vnu: .vnu/$(VNU_VERSION).installed

.vnu/$(VNU_VERSION).installed:
	@if command -v npm >/dev/null; then \
		rm -rf .vnu && \
		npm install --prefix .vnu --ignore-scripts --no-audit --no-fund --save-exact \
			--loglevel=error vnu-jar@$(VNU_VERSION) && \
		touch $@; \
	else \
		echo "make: no npm, so no HTML checker: tests/test_html.py skips it (fails under CI=true)"; \
	fi

# The suite runs in TEST_WORKERS processes (pytest-xdist): its time goes mostly to waiting on
# servers, browsers and databases, so two processes halve it even on two cores. Every test has
# its own SQLite file or PostgreSQL schema, so they never share data. TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2

test: lint vnu
	$(BIN)/pytest -n $(TEST_WORKERS)

# Seeds a small demo world on a temp SQLite database and photographs it with Chromium.
screenshots: $(BIN)/.dev-installed
	$(BIN)/python -m tests.browser.screenshots docs/screenshots

# Benchmarks (docs/benchmarks.md): small dataset on SQLite and PostgreSQL, query (timeline,
# search) + HTTP benchmarks.
# The HTTP benchmark needs PostgreSQL (BENCH_PG: created if missing, replaced if present) and wrk.
BENCH_SQLITE ?= sqlite+aiosqlite:///$(CURDIR)/bench/results/bench.db
BENCH_PG ?= postgresql+asyncpg://postgres@127.0.0.1:5432/warble_bench_small

bench: $(BIN)/.dev-installed
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.seed --url "$(BENCH_SQLITE)" --reset
	$(BIN)/python -m bench.timeline --url "$(BENCH_SQLITE)" --rounds 50 --slow-rounds 1 --save timeline-sqlite-small
	$(BIN)/python -m bench.search --url "$(BENCH_SQLITE)" --rounds 50 --save search-sqlite-small
	$(BIN)/python -m bench.seed --url "$(BENCH_PG)" --reset
	$(BIN)/python -m bench.timeline --url "$(BENCH_PG)" --rounds 50 --slow-rounds 1 --save timeline-pg-small
	$(BIN)/python -m bench.search --url "$(BENCH_PG)" --rounds 50 --save search-pg-small
	$(BIN)/python -m bench.pages --url "$(BENCH_PG)" --seconds 3 --reps 2 --save pages-pg-small

# The endurance soak (docs/benchmarks.md, "Endurance (soak)"), short: 5 minutes of mixed traffic
# and 500 open streams on a private PostgreSQL cluster it starts (and restarts once) on a free
# loopback port, then deletes. It needs PostgreSQL's binaries (initdb, pg_ctl), not a server.
SOAK_MINUTES ?= 5

soak: $(BIN)/.dev-installed
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq postgresql)
	$(BIN)/python -m bench.soak --minutes $(SOAK_MINUTES) --save soak-$(SOAK_MINUTES)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .vnu
