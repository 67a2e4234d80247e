# Thin wrapper over CMake + Ninja. `make run` and `make test` set up a fresh Debian 12 machine.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
CMAKE_FLAGS ?=
CTEST_FLAGS ?=
JOBS ?= $(shell nproc)

.PHONY: all deps configure build run test bench clean format asan tsan perf-gate perf-baseline

all: build

deps:
	@bash scripts/deps.sh
	@bash scripts/rag-setup.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# The flagship figures: the combat world drawn by the Vulkan renderer, headless (frame
# statistics table, screenshot in $(BUILD_DIR)/aw-demo.png; exit 77, no Vulkan device, only skips
# it), then the seed-profile workload's table and the ECS table.
run: build
	@$(BUILD_DIR)/bin/aw-demo --headless --entities 1000 --frames 60 --stats --screenshot $(BUILD_DIR)/aw-demo.png \
	  || [ $$? -eq 77 ]
	@$(BUILD_DIR)/bin/aw-stress --scenario seed-profile --frames 600
	@$(BUILD_DIR)/bin/aw-bench ecs

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_FLAGS)

bench: build
	@$(BUILD_DIR)/bin/aw-bench all

asan:
	@$(MAKE) test BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo CMAKE_FLAGS="-DAW_SANITIZE=address,undefined $(CMAKE_FLAGS)"

# ThreadSanitizer over the tests labelled `threads` (marker comment, see tests/CMakeLists.txt).
tsan:
	@$(MAKE) test BUILD_DIR=build-tsan BUILD_TYPE=RelWithDebInfo CMAKE_FLAGS="-DAW_SANITIZE=thread $(CMAKE_FLAGS)" \
	  CTEST_FLAGS="-L threads $(CTEST_FLAGS)"

# CI performance gate: seed-profile instructions per frame under cachegrind against the committed
# baseline (fails when more than 3% worse). perf-baseline re-measures and rewrites the baseline on
# purpose: commit bench/baselines/cachegrind-seed-profile.json with the change that moved it.
perf-gate: build
	@scripts/perf-gate.sh $(BUILD_DIR)

perf-baseline: build
	@scripts/perf-gate.sh --update $(BUILD_DIR)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	@rm -rf build build-asan build-tsan
