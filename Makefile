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

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache
