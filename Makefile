# mos_lab: two commands for a fresh Debian machine.
#   make lab    set everything up, then open JupyterLab on notebooks/ (prints the URL to
#               open; LAB_IP=0.0.0.0 to reach it from another machine, LAB_PORT=8888)
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
APT_PACKAGES := libportaudio2 jackd2 timgm6mb-soundfont musescore-general-soundfont-small fluidsynth libsndfile1 libvulkan1 mesa-vulkan-drivers chromium fonts-dejavu-core nodejs bubblewrap
PYTEST_ARGS ?=
LAB_IP ?= 127.0.0.1
LAB_PORT ?= 8888

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
	@# JupyterHub's proxy (the hub extra, tests/unit/hub) is an npm package; Debian's own
	@# nodejs has no npm, NodeSource's brings it.
	@command -v configurable-http-proxy >/dev/null || { \
	  echo "installing configurable-http-proxy (npm)"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo"; \
	  command -v npm >/dev/null || DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq npm >/dev/null; \
	  $$SUDO npm install -g --silent configurable-http-proxy >/dev/null; }

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[all,dev]'
	@touch $(STAMP)

venv: $(STAMP)

# As root (how a fresh machine runs this) Jupyter refuses to start without --allow-root.
# Without a display no browser can be opened: the URL (with its token) is printed once the
# server answers, with how to reach it from another machine.
lab: sysdeps venv
	@token=$$($(PY) -c 'import secrets; print(secrets.token_hex(24))'); \
	args="--ip=$(LAB_IP) --port=$(LAB_PORT) --ServerApp.port_retries=0"; \
	args="$$args --ServerApp.root_dir=notebooks --IdentityProvider.token=$$token"; \
	if [ "$$(id -u)" = 0 ]; then args="$$args --allow-root"; fi; \
	if [ -z "$$DISPLAY$$WAYLAND_DISPLAY" ]; then args="$$args --no-browser"; fi; \
	host=$(LAB_IP); \
	if [ "$$host" = 0.0.0.0 ]; then host=$$(hostname -I 2>/dev/null | cut -d' ' -f1); fi; \
	url="http://$${host:-127.0.0.1}:$(LAB_PORT)/lab/tree/00_tour.ipynb?token=$$token"; \
	$(VENV)/bin/jupyter lab $$args & pid=$$!; \
	trap 'kill $$pid 2>/dev/null; wait $$pid; exit 130' INT TERM; \
	up=""; for i in $$(seq 300); do kill -0 $$pid 2>/dev/null || break; \
	  $(PY) -c 'import sys, urllib.request as u; u.urlopen(sys.argv[1], timeout=2)' \
	    "http://127.0.0.1:$(LAB_PORT)/api/status?token=$$token" 2>/dev/null && up=1 && break; \
	  sleep 0.3; done; \
	if [ -n "$$up" ]; then \
	  echo; echo "JupyterLab is running. Open this URL in a browser:"; echo; echo "    $$url"; echo; \
	  if [ "$(LAB_IP)" = 127.0.0.1 ]; then \
	    echo "From another machine: ssh -L $(LAB_PORT):127.0.0.1:$(LAB_PORT) $$(id -un)@$$(hostname)"; \
	    echo "then open the URL there, or run: make lab LAB_IP=0.0.0.0"; fi; \
	  echo "Stop with Ctrl-C."; echo; \
	else echo "JupyterLab did not start on port $(LAB_PORT) (in use? make lab LAB_PORT=8899)" >&2; fi; \
	wait $$pid

check: venv
	$(VENV)/bin/ruff check mos_lab tests bench
	$(VENV)/bin/mypy

# The whole suite takes minutes; the outer limit turns any hang into a failure with output.
# In a random order (pytest-randomly; the seed is printed at the top: repeat an order with
# PYTEST_ARGS=--randomly-seed=N), so a test that leans on another fails where it leans.
test: sysdeps venv check
	timeout -k 30 2400 $(PY) -m pytest -p randomly -m "not soak" --durations=25 $(PYTEST_ARGS)

bench: venv
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
