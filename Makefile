# `make` installs, trains (or reuses) the CNN, runs every problem script and builds the report.
# `make test` installs, runs ruff and vulture (dead code), then the test suite. `make bench` runs the benchmarks.
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

.PHONY: all cnn problems key readme test bench clean
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
	$(PY) -m common.nets.training --data $(DATA)

# The checkpoints that P1 and P2 load, by suffix: the reference CNN (seed0), the seed rechecks
# and P2's judge CNNs (seed1-seed3), P1's no-augmentation CNN (seed0-aug0) and P2's MLP judge
# (mlp-seed0). The missing ones train side by side, one per core (common/nets/models.py); a test
# checks this list against the scripts' models_needed().
MODELS := seed0 seed1 seed2 seed3 seed0-aug0 mlp-seed0

# The data source is resolved once (offline, the download attempt alone costs seconds) and
# passed to every CNN step. Three lanes share the 2 cores: the CNNs train (or are checked) while
# the RNN scripts run one after another (mostly one-threaded numpy); once the checkpoints are
# ready, P1 and P2 run side by side on one torch thread each (their JSON is the same on 1 or 2
# threads). Each lane's output is shown when it ends; the first failure stops make with its status.
problems: $(STAMP)
	@src=$$($(PY) -m common.nets.data $(DATA)) || exit $$?; \
	logs=$$(mktemp -d); trap 'kill $$cnn $$rnn $$pids 2>/dev/null; rm -rf $$logs' EXIT; \
	show() { echo "== (output of) $$1"; cat "$$2"; }; \
	echo "== $(PY) -m common.nets.models --data $$src $(MODELS), then $(CNN_SCRIPTS)"; \
	echo "== $(RNN_SCRIPTS), one after another  (both lanes in the background; output below)"; \
	$(PY) -m common.nets.models --data $$src $(MODELS) >$$logs/models 2>&1 & cnn=$$!; \
	( for s in $(RNN_SCRIPTS); do echo "== $(PY) $$s"; $(PY) $$s || exit $$?; done ) >$$logs/rnn 2>&1 & rnn=$$!; \
	wait $$cnn; status=$$?; show "$(PY) -m common.nets.models" $$logs/models; test $$status = 0 || exit $$status; \
	for s in $(CNN_SCRIPTS); do \
	  OMP_NUM_THREADS=1 $(PY) $$s --data $$src >$$logs/$$s 2>&1 & pids="$$pids $$!"; \
	done; \
	wait $$rnn; status=$$?; show "$(RNN_SCRIPTS)" $$logs/rnn; test $$status = 0 || exit $$status; \
	set -- $$pids; for s in $(CNN_SCRIPTS); do \
	  wait $$1; status=$$?; shift; show "OMP_NUM_THREADS=1 $(PY) $$s --data $$src" $$logs/$$s; \
	  test $$status = 0 || exit $$status; \
	done
	@for f in $(RESULTS); do \
	  test -s $$f || { echo "make: expected output $$f is missing" >&2; exit 1; }; \
	done

# The graders' answer key without any CNN: P3, P5 and answer_key.py (seconds after the install).
key: $(STAMP)
	$(PY) p3_rnn_bptt.py
	$(PY) p5_lstm.py
	$(PY) answer_key.py

# The reference run: everything `make` does, then P1 and P2 again with CNNs trained on seeds 1
# and 2 (their own checkpoints), so that README quotes ranges that survive retraining elsewhere.
README_SEEDS := 1 2
readme: all
	@src=$$($(PY) -m common.nets.data $(DATA)) || exit $$?; \
	for seed in $(README_SEEDS); do \
	  for s in p1_cnn_filters.py p2_occlusion.py; do \
	    echo "== $(PY) $$s --data $$src --seed $$seed --out figures/seed$$seed"; \
	    $(PY) $$s --data $$src --seed $$seed --out figures/seed$$seed || exit $$?; \
	  done; \
	done
	$(PY) -m report --readme README.md --seed-runs $(foreach k,$(README_SEEDS),figures/seed$(k))

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m vulture
	$(PY) -m pytest -q

# The occlusion goals are also measured in CPU seconds of one thread (robust on a shared machine),
# on the CPU's own instruction set and held to AVX2; then the wall-clock benchmarks.
bench: $(STAMP)
	$(PY) -m bench.occlusion_cputime
	ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 $(PY) -m bench.occlusion_cputime
	$(PY) -m bench

clean:
	rm -rf figures/*.png figures/*.json figures/*.md figures/*.pdf figures/seed* checkpoints
