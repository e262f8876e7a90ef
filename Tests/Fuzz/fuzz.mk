# libFuzzer harnesses (included by the Makefile; see README "Fuzzing and sanitizers").
#
# The runtime's sources are compiled once, directly with swiftc, as module
# SCoReRuntime with -enable-testing (so a harness can `@testable import` it and
# reach internal parsers), libFuzzer coverage and ASan. Each harness is one
# small file in Tests/Fuzz linked against that object; the C API harness is C
# over the CAPI objects compiled the same way.

FUZZ_DIR := .build-fuzz
# The toolchain's own clang: it has the libFuzzer and sanitizer runtimes swiftc uses.
SWIFT_CLANG ?= $(dir $(realpath $(shell command -v swiftc)))clang
FUZZ_SECONDS ?= 60
FUZZ_HARNESSES := json config safetensors weights tokenizer-load tokenizer-encode jinja sft rl-data verify capi
FUZZ_SAN := -sanitize=fuzzer,address
FUZZ_SWIFT := nice -n 10 swiftc -O $(FUZZ_SAN) -parse-as-library -I Sources/CBLAS -I $(FUZZ_DIR)/modules \
	-Xcc -fmodule-map-file=$(FUZZ_DIR)/modules/CKernels/module.modulemap
FUZZ_CLANG := nice -n 10 $(SWIFT_CLANG) -O1 -g -fsanitize=fuzzer-no-link,address
FUZZ_RUNTIME_SRC := $(shell find Sources/SCoReRuntime -name '*.swift' | sort)
FUZZ_OBJS := $(FUZZ_DIR)/SCoReRuntime.o $(FUZZ_DIR)/cpu.o $(FUZZ_DIR)/openblas_core.o
FUZZ_BINS := $(addprefix $(FUZZ_DIR)/fuzz-,$(FUZZ_HARNESSES))
# Limits: 2 GB of RSS, 10 s per input (a hang), inputs up to 256 KB (the
# tokenizer fixtures are up to 170 KB; other harnesses set their own below).
FUZZ_FLAGS := -rss_limit_mb=2048 -timeout=10 -report_slow_units=2 -print_final_stats=1
# Leaks are checked per input, except in the harnesses that keep a tokenizer
# or model in a global for the whole run: Swift stores an indirect enum's case
# in the spare high bits of the pointer to its box (the tokenizer's decoder and
# normalizer, the template's syntax tree), so LSan does not see those boxes as
# reachable from the global and reports them as leaks.
FUZZ_GLOBAL_STATE := tokenizer-encode sft capi
fuzz_flags = $(FUZZ_FLAGS) -max_len=$(call fuzz_max_len,$(1)) $(if $(filter $(1),$(FUZZ_GLOBAL_STATE)),-detect_leaks=0)
fuzz_env = $(if $(filter $(1),$(FUZZ_GLOBAL_STATE)),ASAN_OPTIONS=detect_leaks=0)
fuzz_max_len = $(if $(filter tokenizer-load,$(1)),262144,$(if $(filter safetensors weights jinja,$(1)),65536,16384))

$(FUZZ_DIR)/modules/CKernels/module.modulemap:
	@mkdir -p $(@D)
	printf 'module CKernels {\n    header "%s"\n    export *\n}\n' $(abspath Sources/CKernels/include/score_kernels.h) > $@

$(FUZZ_DIR)/%.o: Sources/CKernels/%.c
	@mkdir -p $(@D)
	$(FUZZ_CLANG) -ISources/CKernels/include -c $< -o $@

$(FUZZ_DIR)/SCoReRuntime.o: $(FUZZ_RUNTIME_SRC) $(FUZZ_DIR)/modules/CKernels/module.modulemap
	@echo "swiftc $(FUZZ_SAN) Sources/SCoReRuntime/**/*.swift -> $@"
	@$(FUZZ_SWIFT) -module-name SCoReRuntime -enable-testing -wmo -emit-module \
		-emit-module-path $(FUZZ_DIR)/modules/SCoReRuntime.swiftmodule -c $(FUZZ_RUNTIME_SRC) -o $@

$(FUZZ_DIR)/CAPI.o: $(wildcard Sources/CAPI/*.swift) $(FUZZ_DIR)/SCoReRuntime.o
	$(FUZZ_SWIFT) -module-name CAPI -wmo -enable-experimental-feature CImplementation -I include \
		-c $(wildcard Sources/CAPI/*.swift) -o $@

$(FUZZ_DIR)/score_abi.o: include/score_abi.c
	$(FUZZ_CLANG) -Iinclude -c $< -o $@

$(FUZZ_DIR)/fuzz-capi: Tests/Fuzz/capi.c $(FUZZ_DIR)/CAPI.o $(FUZZ_DIR)/score_abi.o $(FUZZ_OBJS)
	$(FUZZ_CLANG) -Iinclude -c $< -o $(FUZZ_DIR)/capi_harness.o
	$(FUZZ_SWIFT) $(FUZZ_DIR)/capi_harness.o $(FUZZ_DIR)/CAPI.o $(FUZZ_DIR)/score_abi.o $(FUZZ_OBJS) -lopenblas -o $@

$(FUZZ_DIR)/fuzz-%: Tests/Fuzz/%.swift Tests/Fuzz/FuzzSupport.swift $(FUZZ_OBJS)
	$(FUZZ_SWIFT) -module-name Fuzz_$(subst -,_,$*) $< Tests/Fuzz/FuzzSupport.swift $(FUZZ_OBJS) -lopenblas -o $@

.PHONY: fuzz fuzz-smoke fuzz-build fuzz-corpus

fuzz-build: $(FUZZ_BINS)

# Seeds: Tests/Fuzz/seeds.py writes the starting corpus of each harness from
# the repo's fixtures into .build-fuzz/corpus/<harness>; libFuzzer adds to it.
# Tests/Fixtures/fuzz/<harness>/ holds inputs that once crashed (regression seeds).
fuzz-corpus:
	@$(PYTHON) Tests/Fuzz/seeds.py $(FUZZ_DIR)/corpus

fuzz-run-%: $(FUZZ_DIR)/fuzz-% fuzz-corpus
	@mkdir -p $(FUZZ_DIR)/artifacts/$* $(FUZZ_DIR)/corpus/$* $(FUZZ_DIR)/logs
	@cd $(FUZZ_DIR) && SCORE_REPO=$(abspath .) SWIFT_BACKTRACE=enable=no $(call fuzz_env,$*) nice -n 10 ./fuzz-$* $(call fuzz_flags,$*) \
		-max_total_time=$(FUZZ_SECONDS) -artifact_prefix=artifacts/$*/ \
		corpus/$* $(wildcard $(abspath Tests/Fixtures/fuzz/$*)) > logs/$*.log 2>&1; \
		rc=$$?; grep -E '^(==[0-9]+==ERROR|SUMMARY|.*Test unit written)' logs/$*.log; \
		awk -v h=$* -v rc=$$rc '/^stat::number_of_executed_units/ {n=$$2} /^stat::average_exec_per_sec/ {r=$$2} \
			/^stat::new_units_added/ {u=$$2} /^stat::peak_rss_mb/ {m=$$2} \
			END {printf "fuzz-%-17s %9d execs %6d exec/s %5d new units %5d MB rss  %s\n", h, n, r, u, m, rc ? "FAILED (log: $(FUZZ_DIR)/logs/" h ".log)" : "ok"}' \
			logs/$*.log | tee -a logs/summary.txt; exit $$rc

# Runs every harness even when one fails, then fails if any did.
fuzz: fuzz-build fuzz-corpus
	@mkdir -p $(FUZZ_DIR)/logs && echo "== $$(date -u +%FT%TZ) $(FUZZ_SECONDS) s per harness" >> $(FUZZ_DIR)/logs/summary.txt
	@failed=""; for h in $(FUZZ_HARNESSES); do \
		$(MAKE) --no-print-directory fuzz-run-$$h FUZZ_SECONDS=$(FUZZ_SECONDS) || failed="$$failed $$h"; done; \
	if [ -n "$$failed" ]; then echo "make fuzz: failed:$$failed (inputs in $(FUZZ_DIR)/artifacts/)"; exit 1; fi; \
	echo "make fuzz: no crash, hang or leak in $(FUZZ_SECONDS) s per harness"

fuzz-smoke:
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=20
