# Thin wrapper over CMake + CTest. `make demo` and `make check` are the two
# commands a newcomer needs; both install missing Debian packages first.
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
PREFIX ?= /usr/local
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all build check check-asan demo install bench bench-rpc bench-migrate bench-broker fuzz format clean deps-build deps-check deps-bench

all: build

deps-build:
	@scripts/deps.sh build
deps-check:
	@scripts/deps.sh check

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

build: deps-build $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

check: deps-check $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Unit and integration tests under AddressSanitizer + UndefinedBehaviorSanitizer.
check-asan: deps-check
	cmake -S . -B $(ASAN_BUILD) -DTERN_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS) -L 'unit|integration'

demo: build
	scripts/demo.sh $(BUILD)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

deps-bench:
	@scripts/deps.sh bench

bench: deps-bench
	bench/run

bench-rpc: deps-bench
	bench/rpc/run

bench-migrate: deps-bench
	bench/migrate/run

bench-broker: deps-bench build
	BUILD=$(BUILD) bench/broker/run --save

# libFuzzer builds (clang); `make fuzz` runs each target for FUZZ_SECONDS.
fuzz: deps-check
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DTERN_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	fuzz/run $(FUZZ_BUILD) $${FUZZ_SECONDS:-60}

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
