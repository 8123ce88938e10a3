# The two set-up commands: `make run` and `make test`. Everything else builds on them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export GX_ANALYTICS_ENABLED := false
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test ui install clean-warehouse docs bench eval-themes train-themes

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,cluster]"
	touch $(STAMP)

install: $(STAMP)

$(DAGSTER_HOME)/dagster.yaml:
	@mkdir -p "$(DAGSTER_HOME)"
	printf 'telemetry:\n  enabled: false\n' > "$@"

run: $(STAMP) $(DAGSTER_HOME)/dagster.yaml  ## materialize every asset: data/raw -> data/warehouse
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

$(EVAL_STAMP): $(STAMP) pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,cluster,eval]"
	touch $(EVAL_STAMP)

train-themes: $(EVAL_STAMP)  ## fit the theme models on the 672 labelled transcripts (seed 0) -> etl_project/lib/models/
	$(BIN)/python -m etl_project.evaluation.theme_train

eval-themes: $(EVAL_STAMP)  ## every theme method: CV over 672, score on the held-apart 492, cost, prevalence -> docs/THEMES.md + docs/themes_eval.json
	$(BIN)/python -m etl_project.evaluation.theme_eval

clean-warehouse:
	find data/warehouse -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
