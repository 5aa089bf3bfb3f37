# Two commands on a fresh machine:  `make run` (the app)  and  `make test` (every test).
VENV := .venv
PYTHON := $(VENV)/bin/python
SYSTEM_PYTHON ?= python3
PORT ?= 8501

.PHONY: run test test-future lint typecheck browser demo clean

$(VENV)/.app: requirements.txt
	$(SYSTEM_PYTHON) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.app requirements-dev.txt
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

## run: install what the app needs and start it on an embedded SQLite database
run: $(VENV)/.app
	$(PYTHON) -m streamlit run server.py --server.port $(PORT)

## test: install the test tools and a headless Chromium, lint, and run the whole suite
test: $(VENV)/.dev browser lint typecheck
	$(PYTHON) -m pytest

## test-future: the whole suite with the clock two years ahead, for every process it starts
test-future: $(VENV)/.dev browser
	PULSE_TEST_CLOCK_SHIFT_DAYS=730 PYTHONPATH=tests/future_clock $(PYTHON) -m pytest

lint: $(VENV)/.dev
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m ruff check .

## typecheck: mypy over models/, survey/, pages/, app.py and server.py (settings in pyproject.toml)
typecheck: $(VENV)/.dev
	$(PYTHON) -m mypy

# The end-to-end test drives Debian's Chromium; a browser cannot download itself here.
browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Chromium for the browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else \
		echo "note: Chromium is not installed and cannot be installed without root; the browser test will be skipped"; \
	fi

demo: $(VENV)/.app
	$(PYTHON) -m survey demo

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis
