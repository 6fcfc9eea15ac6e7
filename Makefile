# Everything installs what it needs: uv (through pip when missing), then the locked dependencies.
# uv is the one on PATH, else ~/.local/bin/uv (a `pip install --user uv` of before), else it is
# installed into .paygate/uv-venv: a venv of the project's own, which an "externally managed" system
# Python (PEP 668) cannot refuse, needing neither root nor --break-system-packages.
PYTHON ?= python3
UV_VENV := $(CURDIR)/.paygate/uv-venv
UV ?= $(shell command -v uv 2>/dev/null || { test -x "$(HOME)/.local/bin/uv" && echo "$(HOME)/.local/bin/uv"; } || echo "$(UV_VENV)/bin/uv")

.PHONY: install dev test lint typecheck check bench clean

# Without the venv module (Debian without python3-venv), pip installs uv into the same folder.
$(UV_VENV)/bin/uv:
	@echo "installing uv into $(UV_VENV)"
	$(PYTHON) -m venv "$(UV_VENV)" && "$(UV_VENV)/bin/python" -m pip install --quiet uv \
		|| { rm -rf "$(UV_VENV)" && $(PYTHON) -m pip install --quiet --target "$(UV_VENV)" uv; }

install: | $(UV)
	$(UV) sync --frozen

# make dev DEMO_RECEIVER=1 also runs the demo partner endpoint (paygate dev --demo-receiver).
dev: install
	$(UV) run --frozen paygate dev $(if $(filter 1 yes true on,$(DEMO_RECEIVER)),--demo-receiver)

test: install
	$(UV) run --frozen pytest $(PYTEST_ARGS)

lint: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

typecheck: install
	$(UV) run --frozen mypy gateway payment_ms shared paygate

check: lint typecheck test

# On demand, never in CI: paygate under load on this machine (BENCH_QUICK=1 for a short run).
# Installs wrk with apt-get when missing (root). Results: bench/results/latest.json, BENCHMARKS.md.
bench: install
	$(UV) run --frozen python -m bench

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache
