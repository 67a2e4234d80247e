# Thin wrapper over CMake + Ninja. `make run` and `make test` set up a fresh Debian 12 machine.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
CMAKE_FLAGS ?=
CTEST_FLAGS ?=
JOBS ?= $(shell nproc)

.PHONY: all deps configure build run test bench clean format asan tsan

all: build

deps:
	@bash scripts/deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
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

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	@rm -rf build build-asan build-tsan
