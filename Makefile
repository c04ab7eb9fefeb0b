# Two entry points: `make app` launches ATC Desktop, `make test` runs every test.
# Both install what they need first (Qt's system libraries, the project's virtual
# environment .venv with the Python packages and the Rust extension); stamps in .stamps/
# make the second run start at once.
BASE_PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .stamps
# Qt's offscreen platform needs the first line; a real window (xcb) the rest.
QT_LIBS := libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 fonts-dejavu-core \
           libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 \
           libxcb-render-util0 libxcb-randr0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1
RUST_SOURCES := $(wildcard rust_backend/src/*.rs rust_backend/src/*/*.rs)

.PHONY: setup app test test-python test-rust bench package clean apt-venv

setup: $(STAMPS)/system $(STAMPS)/python

# $(call apt_install,WORDS): install those of the Debian packages WORDS that are missing.
define apt_install
@missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
if [ -n "$$missing" ]; then \
  echo "installing: $$missing"; \
  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
fi
endef

$(STAMPS)/system:
	@mkdir -p $(STAMPS)
	$(call apt_install,$(QT_LIBS))
	@touch $@

# The packaged build's tools (the LLVM that llvmlite's source names, cmake, icupkg) and its
# X86-only llvmlite, built once into ~/.cache/atc-desktop-build (packaging/slim.py).
$(STAMPS)/package-tools: $(STAMPS)/python
	$(call apt_install,$$($(PY) packaging/slim.py --build-deps))
	$(PY) packaging/slim.py
	@touch $@

# Debian's own Python creates virtual environments only with its venv package installed.
$(PY):
	@$(BASE_PYTHON) -m venv $(VENV) 2>/dev/null || { rm -rf $(VENV); \
	  $(MAKE) --no-print-directory apt-venv && $(BASE_PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip

apt-venv:
	$(call apt_install,python3-venv)

$(STAMPS)/python: $(PY) pyproject.toml rust_backend/Cargo.toml $(RUST_SOURCES)
	@mkdir -p $(STAMPS)
	$(PY) -m pip install -q -e '.[dev,package]'
	@touch $@

app: setup
	$(VENV)/bin/atc-desktop

# Rust first, pytest last: the run ends on pytest's summary line.
test: setup $(STAMPS)/package-tools test-rust test-python

# The Rust extension is part of every install: its tests fail, not skip, when it is missing.
test-python:
	QT_QPA_PLATFORM=offscreen ATC_REQUIRED_BACKENDS=rust $(PY) -m pytest

test-rust:
	cargo test --quiet --manifest-path rust_backend/Cargo.toml
	@if cargo clippy --version >/dev/null 2>&1; then \
	  cargo clippy --quiet --manifest-path rust_backend/Cargo.toml --all-targets -- -D warnings; \
	else echo "cargo clippy not installed: lint skipped"; fi

bench: setup
	$(PY) -m benchmarks --markdown BENCHMARKS.md

# dist/ATC-Desktop/ and dist/ATC-Desktop-<version>-linux-<arch>.tar.gz; GPU=1: the CuPy variant
package: setup $(STAMPS)/package-tools
	$(PY) packaging/build.py $(if $(GPU),--gpu)

clean:
	rm -rf $(STAMPS) $(VENV) build dist rust_backend/target
