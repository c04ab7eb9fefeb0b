# Two entry points: `make app` launches ATC Desktop, `make test` runs every test.
# Both install what they need first: Qt's system libraries (only those missing), then the
# project's own virtual environment .venv, never the system's Python (PEP 668 forbids it,
# and two checkouts would overwrite each other's editable install). `make app` installs the
# project with its runtime dependencies only; `make test` adds the extras dev and package,
# at the versions of the packaged build's lock file. Stamps in .stamps/ make the second
# run start at once.
BASE_PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMPS := .stamps
LOCK := packaging/requirements.lock
# Qt's offscreen platform needs the first line; a real window (xcb) the rest.
QT_LIBS := libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 fonts-dejavu-core \
           libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 \
           libxcb-render-util0 libxcb-randr0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1
RUST_SOURCES := $(wildcard rust_backend/src/*.rs rust_backend/src/*/*.rs)

.PHONY: setup app test test-python test-rust bench package lock clean

setup: $(STAMPS)/system $(STAMPS)/python

# $(call apt_install,WORDS): install those of the Debian packages WORDS that are missing, as
# root directly, otherwise through sudo. Where that is impossible (no sudo, or apt-get
# failed) it stops, listing them with the command that installs them. Without dpkg (not
# Debian) it only names them.
define apt_install
@if ! command -v dpkg >/dev/null 2>&1; then \
  echo "not a Debian system: make sure these (Debian names) are installed: "$(1); exit 0; \
fi; \
missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
missing=$$(echo $$missing); \
if [ -n "$$missing" ]; then \
  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
  else SUDO=none; fi; \
  if [ "$$SUDO" != none ]; then \
    echo "installing Debian packages: $$missing"; \
    $$SUDO apt-get update -qq && \
      $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing && exit 0; \
  fi; \
  echo "make: these Debian packages are missing and could not be installed: $$missing" >&2; \
  echo "install them as root (or ask your administrator), then run make again:" >&2; \
  echo "  apt-get update && apt-get install -y $$missing" >&2; \
  exit 1; \
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

# Debian's own Python creates virtual environments only with its venv package (ensurepip)
# installed. (No sub-make here: `make -n` would run that line for real.)
$(PY):
	$(if $(shell $(BASE_PYTHON) -c 'import ensurepip' 2>/dev/null || echo no),$(call apt_install,python3-venv))
	$(BASE_PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }
	$(PIP) install -q --upgrade pip

# The project with its runtime dependencies and the Rust extension (built by maturin).
$(STAMPS)/python-app: $(PY) pyproject.toml rust_backend/Cargo.toml $(RUST_SOURCES)
	@mkdir -p $(STAMPS)
	$(PIP) install -q -e .
	@touch $@

# make test and make package add the extras dev, package and scale, and move the packaged build's
# packages to the lock file's versions, so that the suite tests what gets packaged.
$(STAMPS)/python: $(STAMPS)/python-app $(LOCK)
	$(PY) packaging/lock.py --requirements runtime,dev,package,scale \
	  | $(PIP) install -q -c $(LOCK) -r /dev/stdin
	@touch $@

# numba's screening kernels compiled into the user's cache once, after installing, so the
# first start screens on numba at once (without it the app compiles them in the background).
$(STAMPS)/jit-cache: $(STAMPS)/python-app $(wildcard core/jit/*.py)
	$(VENV)/bin/atc-desktop --warm-cache
	@touch $@

app: $(STAMPS)/system $(STAMPS)/python-app $(STAMPS)/jit-cache
	$(VENV)/bin/atc-desktop

# Rust first, pytest last: the run ends on pytest's summary line.
test: setup $(STAMPS)/package-tools test-rust test-python

# The Rust extension is part of every install: its tests fail, not skip, when it is missing.
# Before pytest: strict mypy (pyproject's [tool.mypy] files), the extension against its stub,
# and the numba kernels run as plain Python (NUMBA_DISABLE_JIT) against the reference, which
# checks the kernels' Python semantics that compilation could hide; jit_only tests skip there.
# pytest runs on worker processes (pytest-xdist), one test file per worker at a time, so that
# a file's fixtures are built once: most of the suite's time is numba compiling kernels, one
# core each.
XDIST := --numprocesses=auto --maxprocesses=4 --dist=loadfile
test-python:
	$(PY) -m mypy
	$(PY) -m mypy.stubtest rust_backend._native
	NUMBA_DISABLE_JIT=1 $(PY) -m pytest $(XDIST) tests/jit -q -m "not slow and not jit_only"
	QT_QPA_PLATFORM=offscreen ATC_REQUIRED_BACKENDS=rust $(PY) -m pytest $(XDIST)

test-rust: $(STAMPS)/clippy
	cargo test --quiet --manifest-path rust_backend/Cargo.toml
	cargo clippy --quiet --manifest-path rust_backend/Cargo.toml --all-targets -- -D warnings

# The lint is part of the suite: clippy is installed where it is missing (rustup's component,
# or Debian's package for Debian's own Rust), never skipped.
$(STAMPS)/clippy:
	@mkdir -p $(STAMPS)
	$(if $(shell cargo clippy --version 2>/dev/null),,$(if $(shell command -v rustup),rustup component add clippy,$(call apt_install,rust-clippy)))
	@touch $@

bench: setup
	$(PY) -m benchmarks --markdown BENCHMARKS.md

# dist/ATC-Desktop/ and dist/ATC-Desktop-<version>-linux-<arch>.tar.gz; GPU=1: the CuPy variant
package: setup $(STAMPS)/package-tools
	$(PY) packaging/build.py $(if $(GPU),--gpu)

# Rewrite the lock file from .venv, e.g. after `$(PIP) install -U PACKAGE` there.
lock: $(STAMPS)/python
	$(PY) packaging/lock.py

clean:
	rm -rf $(STAMPS) $(VENV) build dist rust_backend/target
