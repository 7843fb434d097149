# Two commands: `make run` (install, index, chat on http://127.0.0.1:7860) and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
export HF_HUB_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: run test soak install dev ocr index lint bench bench-quick browser clean train reader lexicon

run: install index
	$(PY) app.py

# the suite on both cores (pytest-xdist; each worker builds the shared session fixtures once). Each test module stays
# on one worker, in order (its module fixtures are shared); the slow tests' modules start first (no reordering by
# size); the workers share one pass over the gold questions; one math thread per worker, so the two do not fight
# over the cores
TEST_WORKERS ?= 2
PYTEST := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder
test: dev browser
	$(PYTEST) -m "not soak"

# the long hardening runs kept out of `make test`'s 6 minutes (20 SIGKILLs of ingest and of uploads being indexed,
# the longer state machine, loads during re-indexing and uploads); CI runs them after `make test` (.ci/run)
soak: dev browser
	$(PYTEST) -rP -m soak

install: $(VENV)/.installed ocr
dev: $(VENV)/.installed-dev
	@test -x /usr/bin/tesseract || (apt-get update -qq && apt-get install -y -qq tesseract-ocr >/dev/null)

# Debian's Tesseract (with its English data) to read scanned PDFs by OCR; other languages: tesseract-ocr-<lang>.
# Optional for `make run` (without it a scanned PDF is skipped with that reason); the tests need it (`dev`).
ocr:
	@test -x /usr/bin/tesseract || (apt-get update -qq && apt-get install -y -qq tesseract-ocr >/dev/null) || \
		echo "cityqa: could not install tesseract-ocr (needs root); scanned PDFs will be skipped with a reason" >&2

$(PY):
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

# torch first, from the local CPU wheel: otherwise sentence-transformers pulls the multi-GB CUDA build
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install torch==2.13.0
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(PIP) install -e '.[dev]'
	touch $@

# builds the index on first run, then only re-embeds files that changed
# builds the index if there is none, updates it if the corpus changed, rebuilds it if the settings changed
index: install
	$(VENV)/bin/cityqa ingest --rebuild-if-changed

# Debian's Chromium for the browser tests (never `playwright install`: nothing is downloaded at run time)
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

lint: dev
	$(VENV)/bin/ruff check src tests benchmarks scripts docs app.py
	$(VENV)/bin/mypy

# all benchmarks (about 30-45 min): table on stdout, benchmarks/results.json and benchmarks/scale.png
bench: dev
	$(PY) benchmarks/run.py

# the same without the 100k-chunk scale run (about 10-15 min)
bench-quick: dev
	$(PY) benchmarks/run.py --quick

# refit the answer scorer shipped in src/cityqa/reading/models/scorer.json (about 2 min on 2 cores; see README "Answer scorer")
SQUAD ?= ../shared/bench/squad-public.json
USERS ?= tests/gold/dev_users.jsonl
train: install
	$(PY) -m cityqa.evaluation.train --squad $(SQUAD) --users $(USERS) --work train-work

# retrain the pair reader shipped in src/cityqa/reading/models/reader/ (about an hour on 2 cores, in the background;
# needs train-work/groups.pkl from `make train`; see README "Pair reader"), then export its best checkpoint and
# refit the scorer on it
NLI ?= ../shared/nli
reader: install
	test -f train-work/groups.pkl || $(MAKE) train
	$(PY) -m cityqa.evaluation.reader_train --work train-work --nli $(NLI) --squad $(SQUAD) --out reader-work \
		--minutes 60 > reader-work.log 2>&1
	$(PY) -m cityqa.evaluation.reader_train --export reader-work/best
	$(PY) -m cityqa.evaluation.train --squad $(SQUAD) --users $(USERS) --work train-work

# Rebuild src/cityqa/reading/models/lexicon.json.gz (the fact-checker's WordNet tables) from Debian's wordnet-base.
lexicon: install
	rm -rf lexicon-work && mkdir -p lexicon-work
	cd lexicon-work && apt-get download wordnet-base && dpkg -x wordnet-base_*.deb root
	$(PY) scripts/build_lexicon.py lexicon-work/root/usr/share/wordnet
	rm -rf lexicon-work

clean:
	rm -rf $(VENV) index/chroma index/gen-* index/manifest.json
