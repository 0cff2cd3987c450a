.PHONY: demo test deps lint bench
demo:  ; bash scripts/setup.sh demo
test:  ; bash scripts/setup.sh test
deps:  ; bash scripts/setup.sh deps
lint:  ; .venv/bin/ruff check gitdeploy webhook tests bench
bench: ; bash bench/run.sh
