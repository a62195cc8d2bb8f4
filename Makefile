# Two entry points a new user needs: `make demo` (the main job on the built-in lab) and
# `make test` (the whole suite). Both install what is missing first, so a fresh Debian machine
# needs nothing but this repository, root and make.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
ORC := $(VENV)/bin/orc
DEBIAN_PACKAGES := debootstrap systemd-container apt-cacher-ng openssh-client iproute2 curl chromium
LAB_HOSTS ?= 3
# the example estate's secrets are encrypted to this published, example-only key
export ORC_AGE_KEY_FILE ?= $(CURDIR)/secrets/example-keys/age.key
# ... and its secrets/signers.yaml is signed by this published, example-only root of trust; a real
# estate configures its own root outside the repository (see README, Security)
export ORC_TRUST_ROOT_FILE ?= $(CURDIR)/secrets/example-keys/trust-root.yaml

.PHONY: setup demo test test-fast lab-down clean

setup: $(VENV)/.installed
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

demo: setup
	$(ORC) lab up $(LAB_HOSTS)
	$(ORC) lab status
	$(ORC) plan site.yaml -i inventory/lab.yaml || [ $$? -eq 2 ]
	$(ORC) apply site.yaml -i inventory/lab.yaml --yes
	$(ORC) lab exec -- 'curl -s http://localhost/ && curl -s http://localhost/healthz'

test: setup
	$(VENV)/bin/pytest

test-fast: setup
	$(VENV)/bin/pytest -m 'not lab'

lab-down:
	$(ORC) lab down

clean: lab-down
	rm -rf $(VENV) .orc
