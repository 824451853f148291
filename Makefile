# Self-describing targets; CI runs `make test` word for word (.ci/run).
.PHONY: help serve test lint fmt bench clean

help: ## list targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-6s %s\n", $$1, $$2}'

serve: ## install and serve on SQLite (./rapport.db) at http://127.0.0.1:8000
	@scripts/serve.sh

test: ## install and run ruff, mypy and all tests on SQLite and PostgreSQL
	@scripts/test.sh

lint: ## ruff and mypy only
	@scripts/venv.sh test,bench
	.venv/bin/ruff check src tests bench
	.venv/bin/ruff format --check src tests bench
	.venv/bin/mypy

fmt: ## format and autofix
	.venv/bin/ruff format src tests bench
	.venv/bin/ruff check --fix src tests bench

bench: ## run the benchmarks, each figure beside a bare ASGI baseline
	@scripts/venv.sh test,bench
	.venv/bin/python bench/run.py

clean: ## remove the virtualenv and local databases
	rm -rf .venv rapport.db rapport.db-wal rapport.db-shm
