# cryo: build, test and demo on Debian 12, as root.
#
#   make deps    install Debian packages + CRIU 4.x (scripts/install-deps.sh)
#   make build   deps, cargo build --release, install target/release/cryo to /usr/local/bin/cryo
#   make test    build, the fault-injection test binary, cargo test (e2e tests
#                use CRYO_BIN and CRYO_FAULT_BIN), integration/run.sh, a leak check,
#                then scripts/fuzz.sh $(FUZZ_SECONDS) (every fuzz target, bounded)
#   make demo    build, then scripts/demo.sh (container lifecycle walkthrough)
#   make bench   build, then bench/{lifecycle,checkpoint,migrate}.py: cryo vs runc vs crun (bench/results/)
#   make clean   cargo clean

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

HOME ?= /root
# cargo from rustup lives in ~/.cargo/bin; /usr/local/sbin first so the CRIU 4.x
# built by install-deps.sh wins over Debian's /usr/sbin/criu 3.17.
export PATH := $(HOME)/.cargo/bin:/usr/local/sbin:/usr/local/bin:$(PATH)

CARGO ?= cargo
PREFIX ?= /usr/local
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
CRYO_BIN := $(TARGET_DIR)/release/cryo
# The same cryo with crash points (crates/faults), for tests/tests/faults.rs
# only: its own profile and directory, never installed. Building it with
# --features in one cargo call of its own keeps the feature out of
# target/release/cryo (cargo unifies features per build, not per binary).
CRYO_FAULT_BIN := $(TARGET_DIR)/fault-injection/cryo
# Built with the workspace; `make test` runs it around the suite.
LEAK_CHECK := $(TARGET_DIR)/release/leak-check
LEAK_SNAPSHOT := $(TARGET_DIR)/leak-snapshot.txt
# make test fuzzes every target for this long (seconds each), a target per
# core, built quickly in its own target dir (docs/fuzzing.md).
FUZZ_SECONDS ?= 15
FUZZ_ENV := CARGO_TARGET_DIR=$(TARGET_DIR)/fuzz FUZZ_OPT_LEVEL=1 FUZZ_PARALLEL=$$(nproc)
export RUST_TEST_THREADS ?= 2

.PHONY: deps build test demo bench clean require-root require-cargo

require-root:
	@if [ "$$(id -u)" -ne 0 ]; then \
	  echo "error: 'make $(MAKECMDGOALS)' must run as root (it installs packages and runs containers)" >&2; \
	  exit 1; \
	fi

require-cargo:
	@command -v $(CARGO) >/dev/null 2>&1 || { \
	  echo "error: cargo not found (looked in $(HOME)/.cargo/bin and PATH); install Rust >= 1.85 with rustup" >&2; \
	  exit 1; }

deps: require-root
	bash scripts/install-deps.sh

build: deps require-cargo
	$(CARGO) build --release --workspace
	install -D -m 0755 $(CRYO_BIN) $(PREFIX)/bin/cryo

# cargo test, the integration suite and a bounded fuzzing run all run even if
# another fails; the target fails if any did, or if the suite left anything
# behind (leak-check: mounts, cgroups, network namespaces, runtime/CRIU/
# container processes, state files that were not there before).
test: require-root build
	$(CARGO) build --profile fault-injection -p cryo --features fault-injection
	@rc=0; \
	$(LEAK_CHECK) snapshot $(LEAK_SNAPSHOT) || exit 1; \
	echo "+ CRYO_BIN=$(CRYO_BIN) CRYO_FAULT_BIN=$(CRYO_FAULT_BIN) RUST_TEST_THREADS=$(RUST_TEST_THREADS) $(CARGO) test --release --workspace --no-fail-fast"; \
	CRYO_BIN=$(CRYO_BIN) CRYO_FAULT_BIN=$(CRYO_FAULT_BIN) $(CARGO) test --release --workspace --no-fail-fast || rc=1; \
	if [ -f integration/run.sh ]; then \
	  echo "+ CRYO_BIN=$(CRYO_BIN) bash integration/run.sh"; \
	  CRYO_BIN=$(CRYO_BIN) bash integration/run.sh || rc=1; \
	fi; \
	echo "+ $(LEAK_CHECK) compare $(LEAK_SNAPSHOT)"; \
	$(LEAK_CHECK) compare $(LEAK_SNAPSHOT) || rc=1; \
	echo "+ $(FUZZ_ENV) bash scripts/fuzz.sh $(FUZZ_SECONDS)"; \
	$(FUZZ_ENV) bash scripts/fuzz.sh $(FUZZ_SECONDS) || rc=1; \
	exit $$rc

demo: require-root build
	CRYO=$(PREFIX)/bin/cryo bash scripts/demo.sh

# Debian's python3 (not a pyenv one): python3-matplotlib draws the PNG; GNU
# time measures the peak RSS of create.
bench: require-root build
	@dpkg -s python3-matplotlib time >/dev/null 2>&1 || apt-get install -y -q python3-matplotlib time
	/usr/bin/python3 bench/lifecycle.py --cryo $(PREFIX)/bin/cryo
	/usr/bin/python3 bench/checkpoint.py --cryo $(PREFIX)/bin/cryo
	/usr/bin/python3 bench/migrate.py --cryo $(PREFIX)/bin/cryo

clean:
	$(CARGO) clean
