# A newcomer's two commands: `make demo` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: install demo test lint docs bench feed kafka clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

install: $(INSTALLED)

demo: $(INSTALLED)
	$(VENV)/bin/hedger demo

test: $(INSTALLED)
	$(PY) -m pytest

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The documentation site (docs/, mkdocs.yml) into build/site; strict: a broken link fails.
docs: $(INSTALLED)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

bench: $(INSTALLED)
	$(PY) -m benchmarks

# A local Apache Kafka (KRaft) on localhost:9092, data in .kafka/; needs Java 17+ and Maven.
kafka: $(INSTALLED)
	$(VENV)/bin/hedger kafka

# Regenerates the bundled recording; a test checks it still matches this script.
feed: $(INSTALLED)
	$(PY) -m producers.make_demo_feed --seed 7 --out producers/data/demo_feed.jsonl

clean:
	rm -rf $(VENV) .kafka .pytest_cache .mypy_cache .ruff_cache .hypothesis
