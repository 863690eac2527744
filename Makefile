# `make` installs, trains (or reuses) the CNN, runs every problem script and builds the report.
# `make test` installs and runs the test suite. `make bench` runs the benchmarks.
# `make readme` (maintainers only) refreshes README's results from a reference run over 3 CNN
# training seeds; `make` and `make test` never modify a tracked file.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-requirements
# The scripts that use the trained CNNs (and take --data), then those that do not.
CNN_SCRIPTS := p1_cnn_filters.py p2_occlusion.py
RNN_SCRIPTS := p3_rnn_bptt.py p4_experiments.py p5_lstm.py answer_key.py
SCRIPTS := $(CNN_SCRIPTS) $(RNN_SCRIPTS)
RESULTS := $(patsubst p%,figures/p%,$(foreach s,$(filter p%,$(SCRIPTS)),$(firstword $(subst _, ,$(s)))_results.json)) \
           $(if $(filter answer_key.py,$(SCRIPTS)),figures/answer_key.json)
DATA ?= auto

.PHONY: all cnn problems readme test bench clean
.DEFAULT_GOAL := all

all: problems
	@$(if $(wildcard report/build.py),$(PY) -m report --check-links,true)
	@echo "make: done; results and figures are in figures/"

# The venv is rebuilt only when requirements.txt changes. pip (not uv/poetry) takes the pinned
# torch/torchvision from the machine's local wheel store.
$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

cnn: $(STAMP)
	$(PY) -m common.cnn --data $(DATA)

# The checkpoints that P1 and P2 load, by suffix: the reference CNN (seed0), the seed rechecks
# and P2's judge CNNs (seed1-seed3), P1's no-augmentation CNN (seed0-aug0) and P2's MLP judge
# (mlp-seed0). The missing ones train side by side, one per core (common/models.py); a test
# checks this list against the scripts' models_needed().
MODELS := seed0 seed1 seed2 seed3 seed0-aug0 mlp-seed0

# The data source is resolved once (offline, the download attempt alone costs seconds) and
# passed to every CNN step. The CNNs train in the background while the RNN scripts run (those
# are mostly one-threaded numpy and leave a core free); the trainer's output is shown when it
# ends, then the CNN scripts run. The first failure stops make with its status.
problems: $(STAMP)
	@src=$$($(PY) -m common.data $(DATA)) || exit $$?; \
	log=$$(mktemp); trap 'kill $$cnn 2>/dev/null; rm -f $$log' EXIT; \
	echo "== $(PY) -m common.models --data $$src $(MODELS)  (in the background; output below)"; \
	$(PY) -m common.models --data $$src $(MODELS) >$$log 2>&1 & cnn=$$!; \
	for s in $(RNN_SCRIPTS); do \
	  echo "== $(PY) $$s"; \
	  $(PY) $$s || exit $$?; \
	done; \
	wait $$cnn; status=$$?; \
	echo "== (output of) $(PY) -m common.models --data $$src $(MODELS)"; \
	cat $$log; test $$status = 0 || exit $$status; \
	for s in $(CNN_SCRIPTS); do \
	  echo "== $(PY) $$s --data $$src"; \
	  $(PY) $$s --data $$src || exit $$?; \
	done
	@for f in $(RESULTS); do \
	  test -s $$f || { echo "make: expected output $$f is missing" >&2; exit 1; }; \
	done

# The reference run: everything `make` does, then P1 and P2 again with CNNs trained on seeds 1
# and 2 (their own checkpoints), so that README quotes ranges that survive retraining elsewhere.
README_SEEDS := 1 2
readme: all
	@src=$$($(PY) -m common.data $(DATA)) || exit $$?; \
	for seed in $(README_SEEDS); do \
	  for s in p1_cnn_filters.py p2_occlusion.py; do \
	    echo "== $(PY) $$s --data $$src --seed $$seed --out figures/seed$$seed"; \
	    $(PY) $$s --data $$src --seed $$seed --out figures/seed$$seed || exit $$?; \
	  done; \
	done
	$(PY) -m report --readme README.md --seed-runs $(foreach k,$(README_SEEDS),figures/seed$(k))

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest -q

# The occlusion goals are also measured in CPU seconds of one thread (robust on a shared machine),
# on the CPU's own instruction set and held to AVX2; then the wall-clock benchmarks.
bench: $(STAMP)
	$(PY) -m bench.occlusion_cputime
	ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 $(PY) -m bench.occlusion_cputime
	$(PY) -m bench

clean:
	rm -rf figures/*.png figures/*.json figures/*.md figures/seed* checkpoints
