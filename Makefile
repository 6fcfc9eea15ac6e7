# Everything installs what it needs: uv (through pip when missing), then the locked dependencies.
UV ?= $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
PYTHON ?= python3

.PHONY: install dev test lint typecheck check bench clean

$(UV):
	$(PYTHON) -m pip install --user --quiet uv || $(PYTHON) -m pip install --quiet --break-system-packages uv

install: | $(UV)
	$(UV) sync --frozen

dev: install
	$(UV) run --frozen paygate dev

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
