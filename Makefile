# MMGT-Bench. `make test` and `make reproduce-table1` set everything up on a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
# The venv is rebuilt whenever the dependency list or the torch pins change.
DEPS_HASH := $(shell cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
STAMP  := $(VENV)/.installed-$(DEPS_HASH)
DATA   ?= data/synth
export PYTHONUNBUFFERED := 1

.PHONY: help venv lock test test-slow test-all data reproduce-table1 reproduce-table2 reproduce-table3 \
        bench bench-eval bench-stage1 bench-stage2 bench-generate bench-resume bench-pats report-stage1 vae-ceiling sampler-study stage1-models train-stage2 train-mmgt checkpoints sanity gesture-encoder clean

help:  ## list targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@rm -f $(VENV)/.installed-*
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	@# numba kernels cached by an older install may be mismatched pairs (numba#10128): start clean
	@find $(VENV)/lib -path '*/librosa/*' -name '*.nb[ic]' -delete
	@touch $@

venv: $(STAMP)  ## create or update .venv (every version pinned by constraints.txt)

lock: $(STAMP)  ## re-pin constraints.txt to the versions now in .venv (after a dependency change)
	@{ sed -n '/^#/p' constraints.txt; $(PY) -m pip freeze --exclude-editable; } > constraints.txt.new
	@mv constraints.txt.new constraints.txt

test: $(STAMP)  ## fast test suite (what CI runs)
	$(PY) -m pytest -m "not slow" -n 2 --dist loadfile -q --durations=10

test-slow: $(STAMP)  ## slow tests only
	$(PY) -m pytest -m slow -q

test-all: $(STAMP)  ## every test
	$(PY) -m pytest -n 2 --dist loadfile -q

$(DATA)/manifest.csv: | $(STAMP)
	$(VENV)/bin/mmgt data synth --out $(DATA)

data: $(DATA)/manifest.csv  ## build the embedded synthetic-speakers split

reproduce-table1: $(STAMP) $(DATA)/manifest.csv  ## Table I on the embedded split -> results/table1/
	$(VENV)/bin/mmgt reproduce table1 --data $(DATA) --allow-untrained-extractors

reproduce-table2: $(STAMP) $(DATA)/manifest.csv  ## Table II (pose-driven) -> results/table2/
	$(VENV)/bin/mmgt reproduce table2 --data $(DATA) --allow-untrained-extractors

reproduce-table3: $(STAMP) $(DATA)/manifest.csv  ## Table III (ablations) -> results/table3/
	$(VENV)/bin/mmgt reproduce table3 --data $(DATA) --allow-untrained-extractors

bench: bench-eval bench-stage1 bench-stage2 bench-generate bench-resume bench-pats  ## all benchmarks -> results/bench/

bench-eval: $(STAMP) $(DATA)/manifest.csv  ## evaluation throughput vs the reference tools
	$(PY) -m mmgt.experiments.bench_eval --data $(DATA) --out results/bench

bench-stage1: $(STAMP)  ## stage-1 generation speed and memory
	$(PY) -m mmgt.experiments.bench_stage1 --out results/bench

bench-stage2: $(STAMP) $(DATA)/manifest.csv  ## stage-2 video generation speed, memory and its parts
	$(PY) -m mmgt.experiments.bench_stage2 --data $(DATA) --out results/bench

bench-resume: $(STAMP) $(DATA)/manifest.csv  ## an all-metrics evaluation interrupted halfway, then rerun (values equal? time kept?)
	$(PY) -m mmgt.experiments.bench_resume --data $(DATA) --out results/bench

bench-pats: $(STAMP)  ## PATS stand-in on loopback: download-pats, prepare-pats, and what their reruns cost
	$(PY) -m mmgt.experiments.bench_pats --out results/bench

bench-generate: $(STAMP) $(DATA)/manifest.csv  ## the whole `mmgt generate` pipeline (committed tiny checkpoints)
	$(PY) -m mmgt.experiments.bench_generate --data $(DATA) --out results/bench

train-stage2: $(STAMP) $(DATA)/manifest.csv  ## retrain the tiny stage-2 backbone (VAE, image step, video step) -> runs/stage2/tiny/
	for step in vae image video; do $(VENV)/bin/mmgt train stage2 --preset tiny --step $$step --data $(DATA) || exit 1; done

MMGT_VARIANTS := mmgt hallo mmgt-still-mask mmgt-no-mask mmgt-no-audio
MMGT_JOBS     ?= 2
train-mmgt: $(STAMP) $(DATA)/manifest.csv  ## MMGT stage 2, its Table III variants and Hallo-adapted (video step on runs/stage2/tiny/image) -> runs/stage2/tiny-<variant>/ (MMGT_JOBS at once)
	@echo $(MMGT_VARIANTS) | tr ' ' '\n' | \
	  xargs -P $(MMGT_JOBS) -I{} $(VENV)/bin/mmgt train stage2-audio --variant {} --preset tiny --data $(DATA) --no-progress \
	    --set train.threads=1

report-stage1: $(STAMP) $(DATA)/manifest.csv stage1-models  ## SMGA vs EDGE vs still pose -> results/stage1/
	$(PY) -m mmgt.experiments.stage1_report --data $(DATA) --out results/stage1

vae-ceiling: $(STAMP) $(DATA)/manifest.csv  ## test clips through the tiny stage-2 VAE alone, scored -> results/stage2/vae_ceiling.{md,json}
	$(PY) -m mmgt.experiments.vae_ceiling --data $(DATA) --out results/stage2

sampler-study: $(STAMP) $(DATA)/manifest.csv  ## stage-2 samplers against 30-step DDIM (animate-anyone, test clips) -> results/stage2/samplers.{md,json}
	$(PY) -m mmgt.experiments.sampler_study --data $(DATA) --out results/stage2

sanity: $(STAMP) $(DATA)/manifest.csv  ## harness sanity (degraded GT) -> results/sanity/
	$(PY) -m mmgt.experiments.sanity --data $(DATA) --out results/sanity --allow-untrained-extractors

clean:  ## remove generated data, runs and caches (keeps .venv)
	rm -rf data runs cache .pytest_cache

gesture-encoder: $(STAMP) $(DATA)/manifest.csv  ## retrain the committed FGD gesture encoder (then pin its sha256 in eval/gesture_cache.py)
	$(VENV)/bin/mmgt-eval train-gesture-encoder --data $(DATA) --out eval/assets/gesture_ae-synth.pt
	sha256sum eval/assets/gesture_ae-synth.pt

STAGE1_ROWS  := tiny tiny-single-stream tiny-no-face-loss edge-tiny
STAGE1_SEEDS := 0 1 2
STAGE1_JOBS  ?= 2
stage1-models: $(STAMP) $(DATA)/manifest.csv  ## train the stage-1 report's rows x seeds -> runs/stage1/<preset>[-seedN] (STAGE1_JOBS at once)
	@for p in $(STAGE1_ROWS); do for s in $(STAGE1_SEEDS); do echo "$$p $$s"; done; done | \
	  xargs -P $(STAGE1_JOBS) -L 1 sh -c '$(VENV)/bin/mmgt train stage1 --data $(DATA) --no-progress --preset $$0 --seed $$1'

CKPT := $(PY) -m mmgt.checkpoints add
checkpoints: $(STAMP)  ## copy the trained tiny runs into checkpoints/ (fp16, sha256 in manifest.json); commit them afterwards
	for p in tiny edge-tiny tiny-no-face-loss; do \
	  $(CKPT) runs/stage1/$$p --name stage1/$$p --pattern stage1.safetensors --fp16 --make stage1-models || exit 1; done
	$(CKPT) runs/stage2/tiny/video/model --name stage2/tiny --fp16 --make train-stage2
	for v in $(MMGT_VARIANTS); do \
	  $(CKPT) runs/stage2/tiny-$$v/video/model --name stage2/tiny-$$v --fp16 --make train-mmgt || exit 1; done
	$(CKPT) runs/mm_diffusion/tiny --name mm_diffusion/tiny --pattern mm_diffusion.json --pattern '*.safetensors' --make train-mm-diffusion

train-mm-diffusion: $(STAMP) $(DATA)/manifest.csv  ## retrain the tiny MM-Diffusion models (base + SR, ~30 min on 2 cores)
	$(VENV)/bin/mmgt train mm-diffusion --preset tiny --data $(DATA) --out runs/mm_diffusion/tiny --fp16 --no-resume
