# libscore — build, test, demo, install.
#
#   make                 release build of libscore.so and score-cli
#   make test            every test: Swift, C API, library contract, CLI, kill -9, MPI, Python, TSan
#   make demo            the main job (see README)
#   make soak            long soak runs: memory and file descriptors stay flat
#   make install PREFIX=/usr/local
#   make test-asan       C tests, CLI contract and pytest on an ASan (+UBSan for C) debug build (.build-asan; ~8 min, not in make test)
#   make test-tsan       sessions, trainers and kernels on several threads, TSan build (.build-tsan)
#   make fuzz            build every libFuzzer harness and run each FUZZ_SECONDS (default 60) s
#   make fuzz-smoke      the same, 20 s each (Tests/Fuzz; README "Fuzzing and sanitizers")
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
CFLAGS_STRICT := -std=c11 -Wall -Wextra -Werror -O2 -Iinclude $(SAN_CFLAGS)
C_LINK := -L$(BUILD) -lscore -Wl,-rpath,$(abspath $(BUILD))
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all build deps deps-python test test-swift test-c test-cli test-crash test-mpi test-library test-python test-install test-asan test-tsan fuzz fuzz-smoke soak demo install clean

all: build

# OpenBLAS is the one system library; install it when missing.
deps:
	@if ! pkg-config --exists openblas 2>/dev/null; then \
		echo "installing libopenblas-dev and pkg-config"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq libopenblas-dev pkg-config; \
	fi

build: deps
	swift build $(SWIFT_FLAGS) --build-tests

test: build test-swift test-library test-c test-cli test-crash test-mpi test-install test-python test-tsan
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
	$(CC) $(CFLAGS_STRICT) -D_DEFAULT_SOURCE Tests/C/test_recipe.c $(C_LINK) -o $(BUILD)/c/test_recipe
	$(BUILD)/c/test_recipe $(FIXTURES)
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
	$(PY_ENV) SCORE_LIBRARY=$(abspath $(LIB)) $(PYTHON) -m pytest -q bindings/python/tests

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

# Sanitizer builds: their own scratch paths, debug (checks and symbols kept).
# The C tests, the CLI contract and pytest run unchanged against them
# (test-c, test-cli, test-python with BUILD pointing there).
SWIFT_CLANG ?= $(dir $(realpath $(shell command -v swiftc)))clang
ASAN_BUILD := .build-asan/debug
TSAN_BUILD := .build-tsan/debug
# The toolchain's TSan runtime intercepts libdispatch: link the toolchain's copy.
SWIFT_LIBS = $(abspath $(dir $(SWIFT_CLANG))../lib/swift/linux)
# Every report goes to a file under .build-asan/reports, so that one in a
# process whose failure a test expects (the CLI contract's error cases) is
# not lost: the target fails when any report exists. Python is not
# instrumented: the ASan runtime is preloaded there, and leaks are not
# checked (the interpreter's own allocations at exit are not ours).
ASAN_RUNTIME = $(shell $(SWIFT_CLANG) -print-file-name=libclang_rt.asan-x86_64.so)
ASAN_REPORTS := $(abspath .build-asan/reports)
ASAN_COMMON := abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1:log_path=$(ASAN_REPORTS)/asan
SAN_ENV := SWIFT_BACKTRACE=enable=no UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$(ASAN_REPORTS)/ubsan

test-asan: deps
	nice -n 10 swift build -c debug --sanitize=address -Xcc -fsanitize=undefined --scratch-path .build-asan
	@rm -rf $(ASAN_REPORTS) && mkdir -p $(ASAN_REPORTS)
	$(SAN_ENV) ASAN_OPTIONS=$(ASAN_COMMON):detect_leaks=1 $(MAKE) --no-print-directory test-c test-cli BUILD=$(ASAN_BUILD) \
		CC=$(SWIFT_CLANG) SAN_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -g"
	$(SAN_ENV) ASAN_OPTIONS=$(ASAN_COMMON):detect_leaks=0 $(MAKE) --no-print-directory test-python BUILD=$(ASAN_BUILD) \
		PY_ENV="LD_PRELOAD=$(ASAN_RUNTIME)"
	@if [ -n "$$(ls -A $(ASAN_REPORTS))" ]; then cat $(ASAN_REPORTS)/*; echo "make test-asan: sanitizer reports above"; exit 1; fi
	@echo "make test-asan: clean (no ASan, UBSan or LSan report)"

# Several sessions over one model on several threads, with a trainer and an
# RL trainer alongside (Tests/C/test_threads.c). Reports in OpenBLAS's own
# threads and the Swift runtime's lazy initialisation are suppressed with
# reasons in Tests/C/tsan.supp.
test-tsan: deps
	nice -n 10 swift build -c debug --sanitize=thread --scratch-path .build-tsan --product score
	@mkdir -p $(TSAN_BUILD)/c
	$(SWIFT_CLANG) $(CFLAGS_STRICT) -fsanitize=thread -g -D_DEFAULT_SOURCE Tests/C/test_threads.c \
		-L$(TSAN_BUILD) -lscore -Wl,-rpath,$(abspath $(TSAN_BUILD)) -lpthread \
		-L$(SWIFT_LIBS) -ldispatch -lBlocksRuntime -Wl,-rpath,$(SWIFT_LIBS) -o $(TSAN_BUILD)/c/test_threads
	TSAN_OPTIONS="suppressions=$(abspath Tests/C/tsan.supp) halt_on_error=1 second_deadlock_stack=1" \
		$(TSAN_BUILD)/c/test_threads $(FIXTURES)/qwen2-chat
	@echo "make test-tsan: clean"

include Tests/Fuzz/fuzz.mk
