# mos_lab: two commands for a fresh Debian machine.
#   make lab    set everything up, then open JupyterLab on notebooks/
#   make test   set everything up, then run lint, type check and the whole test suite
# Both are idempotent: they only install what is missing.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# System packages: PortAudio + JACK (real-time audio without a sound card), a GM SoundFont,
# Mesa's software Vulkan (wgpu without a GPU), FFmpeg-free: imageio-ffmpeg ships its own;
# bubblewrap: the sandbox of untrusted plugins.
APT_PACKAGES := libportaudio2 jackd2 timgm6mb-soundfont libsndfile1 libvulkan1 mesa-vulkan-drivers chromium fonts-dejavu-core nodejs bubblewrap
PYTEST_ARGS ?=

.PHONY: lab test check sysdeps venv bench clean

sysdeps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo"; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[all,dev]'
	@touch $(STAMP)

venv: $(STAMP)

lab: sysdeps venv
	$(VENV)/bin/jupyter lab notebooks/

check: venv
	$(VENV)/bin/ruff check mos_lab tests bench
	$(VENV)/bin/mypy

# The whole suite takes minutes; the outer limit turns any hang into a failure with output.
test: sysdeps venv check
	timeout -k 30 2400 $(PY) -m pytest -m "not soak" $(PYTEST_ARGS)

bench: venv
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
