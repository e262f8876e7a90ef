# libscore — build, test, demo, install.
#
#   make                 release build of libscore.so and score-cli
#   make test            every test: Swift, C API, library contract, CLI, kill -9, MPI, Python
#   make demo            the main job (see README)
#   make soak            long soak runs: memory and file descriptors stay flat
#   make install PREFIX=/usr/local
#   make PORTABLE=1 ...  vector code for any x86-64-v3 (AVX2) CPU; default: tuned for this CPU
#
# One release build serves everything: the tests link the same objects that
# go into libscore.so and score-cli.

PREFIX ?= /usr/local
PYTHON ?= python3
CC ?= cc
PORTABLE ?= 0
KILLS ?= 50

# Like llama.cpp's GGML_NATIVE default: the library is built where it runs,
# so its vector code uses everything this CPU has (AVX-512 here: +30% on
# batched decoding). PORTABLE=1 builds for any AVX2 machine, for binaries
# that are copied elsewhere.
SWIFT_FLAGS := -c release
ifeq ($(PORTABLE),1)
export SCORE_TARGET_CPU := haswell
else
export SCORE_TARGET_CPU := native
endif

BUILD := .build/release
LIB := $(BUILD)/libscore.so
CLI := $(BUILD)/score-cli
FIXTURES := Tests/Fixtures/models
CFLAGS_STRICT := -std=c11 -Wall -Wextra -Werror -O2 -Iinclude
C_LINK := -L$(BUILD) -lscore -Wl,-rpath,$(abspath $(BUILD))
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all build deps deps-python test test-swift test-c test-cli test-crash test-mpi test-library test-python test-install soak demo install clean

all: build

# OpenBLAS is the one system library; install it when missing.
deps:
	@if ! pkg-config --exists openblas 2>/dev/null; then \
		echo "installing libopenblas-dev and pkg-config"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq libopenblas-dev pkg-config; \
	fi

build: deps
	swift build $(SWIFT_FLAGS) --build-tests

test: build test-swift test-library test-c test-cli test-crash test-mpi test-install test-python
	@echo "make test: all suites passed"

test-swift:
	swift test $(SWIFT_FLAGS) --skip-build

test-library:
	tools/check_library.sh $(LIB) include/score.h

test-c:
	@mkdir -p $(BUILD)/c
	$(CC) $(CFLAGS_STRICT) examples/c/logprobs.c $(C_LINK) -o $(BUILD)/c/logprobs
	$(CC) $(CFLAGS_STRICT) -D_DEFAULT_SOURCE Tests/C/test_capi.c $(C_LINK) -lm -lpthread -o $(BUILD)/c/test_capi
	$(CC) $(CFLAGS_STRICT) examples/c/generate.c $(C_LINK) -o $(BUILD)/c/generate
	$(BUILD)/c/logprobs $(FIXTURES)/llama-gqa
	$(CC) $(CFLAGS_STRICT) examples/c/self_correct.c $(C_LINK) -o $(BUILD)/c/self_correct
	$(BUILD)/c/generate $(FIXTURES)/qwen2
	$(BUILD)/c/self_correct $(FIXTURES)/qwen2-chat > /dev/null
	$(BUILD)/c/test_capi $(FIXTURES)
	$(CC) $(CFLAGS_STRICT) examples/c/train_step.c $(C_LINK) -lm -o $(BUILD)/c/train_step
	rm -rf $(BUILD)/c/train_step.out && $(BUILD)/c/train_step $(FIXTURES)/qwen2 $(BUILD)/c/train_step.out
	$(CC) $(CFLAGS_STRICT) examples/c/train_score.c $(C_LINK) -o $(BUILD)/c/train_score
	$(BUILD)/c/train_score $(FIXTURES)/qwen2-chat
	$(CC) $(CFLAGS_STRICT) -D_DEFAULT_SOURCE Tests/C/soak.c $(C_LINK) -o $(BUILD)/c/soak
	$(BUILD)/c/soak $(FIXTURES)
	$(CC) $(CFLAGS_STRICT) -D_DEFAULT_SOURCE examples/c/data_parallel.c $(C_LINK) -lpthread -o $(BUILD)/c/data_parallel
	$(BUILD)/c/data_parallel $(FIXTURES)/qwen2-chat

# The soak tests at their full counts (make test runs them shorter): 1,000
# generate calls, 1,000 scoring calls, 200 trainer steps, through C and Python;
# RSS after warm-up grows < 2%, no file descriptor leaks.
soak: build
	@mkdir -p $(BUILD)/c
	$(CC) $(CFLAGS_STRICT) -D_DEFAULT_SOURCE Tests/C/soak.c $(C_LINK) -o $(BUILD)/c/soak
	$(BUILD)/c/soak $(FIXTURES) 1000 1000 200
	SCORE_SOAK=full SCORE_LIBRARY=$(abspath $(LIB)) $(PYTHON) -m pytest -q -s bindings/python/tests/test_soak.py

test-cli:
	Tests/CLI/test_cli.sh $(CLI) $(FIXTURES)

# Data-parallel SCoRe over Open MPI (installed when missing, as OpenBLAS is):
# mpirun -np 2 and 3 equal one process with --shards N bit for bit; --resume;
# a killed worker ends the job.
test-mpi:
	@if ! command -v mpirun >/dev/null 2>&1; then \
		echo "installing openmpi-bin and libopenmpi-dev"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq openmpi-bin libopenmpi-dev; \
	fi
	Tests/MPI/test_mpi.sh $(CLI) $(FIXTURES)

# Every writer (checkpoints, exports, adapters, metrics, correct --out) killed
# with SIGKILL at 50 random moments: the last checkpoint always loads, and
# resuming ends exactly where an uninterrupted run does.
test-crash:
	$(PYTHON) Tests/Crash/kill9_test.py $(CLI) $(FIXTURES) --kills $(KILLS)

# Installs into a scratch prefix and builds the example through pkg-config,
# as a user of the installed library would.
test-install:
	@rm -rf $(BUILD)/prefix
	$(MAKE) --no-print-directory install-files PREFIX=$(abspath $(BUILD)/prefix)
	$(CC) $(CFLAGS_STRICT) examples/c/logprobs.c \
		$$(PKG_CONFIG_PATH=$(abspath $(BUILD)/prefix)/lib/pkgconfig pkg-config --cflags --libs score) \
		-Wl,-rpath,$(abspath $(BUILD)/prefix)/lib -o $(BUILD)/prefix/logprobs
	$(BUILD)/prefix/logprobs $(FIXTURES)/qwen3 > /dev/null
	$(BUILD)/prefix/bin/score-cli info $(FIXTURES)/qwen3 > /dev/null
	@echo "install layout and pkg-config: ok"

# bubblewrap is the code verifier's sandbox (score.verifiers.code_verifier
# refuses to run generated programs without it); install it when missing.
deps-python:
	@if ! command -v bwrap > /dev/null 2>&1; then \
		echo "installing bubblewrap"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq bubblewrap; \
	fi
	@$(PYTHON) -m pytest --version > /dev/null 2>&1 || $(PYTHON) -m pip install -q pytest

test-python: deps-python
	SCORE_LIBRARY=$(abspath $(LIB)) $(PYTHON) -m pytest -q bindings/python/tests

# The main job: a model from nothing, warm start, SCoRe Stage I and II, the
# single-turn ablation, and the five metrics (see README). SEED=N picks the run.
SEED ?= 0
demo: deps
	swift build $(SWIFT_FLAGS) --product score-cli
	$(CLI) demo --seed $(SEED) --work $(BUILD)/demo-run

install: deps
	swift build $(SWIFT_FLAGS)
	$(MAKE) --no-print-directory install-files PREFIX=$(PREFIX)

install-files:
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(LIB) $(DESTDIR)$(PREFIX)/lib/libscore.so
	install -m 644 include/score.h $(DESTDIR)$(PREFIX)/include/score.h
	install -m 755 $(CLI) $(DESTDIR)$(PREFIX)/bin/score-cli
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e "s|@VERSION@|$$($(CLI) version)|g" tools/score.pc.in \
		> $(DESTDIR)$(PREFIX)/lib/pkgconfig/score.pc

clean:
	rm -rf .build
