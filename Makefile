# ajar - the two commands a fresh Debian machine needs: `make run`, `make test`.
# Everything else is CMake under build/.

JOBS    ?= $(shell nproc)
FIXTURES ?= $(abspath ../shared/fixtures)
MODEL   ?= $(FIXTURES)/models/stories260K.gguf

CMAKE_COMMON = -DAJAR_FIXTURES=$(FIXTURES)

.PHONY: all deps build build-asan build-fuzz run test test-release test-asan test-fuzz test-browser clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release $(CMAKE_COMMON) >/dev/null
	@cmake --build build/release -j $(JOBS)

build-asan: deps
	@cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DAJAR_SANITIZE=ON $(CMAKE_COMMON) >/dev/null
	@cmake --build build/asan -j $(JOBS)

build-fuzz: deps
	@CC=clang cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=Debug -DAJAR_FUZZ=ON $(CMAKE_COMMON) >/dev/null
	@cmake --build build/fuzz -j $(JOBS)

HOST ?= 127.0.0.1
PORT ?= 8080

# Serves the model on the embedded defaults; the server prints the address
# to open. Ctrl-C stops it.
run: build
	@./build/release/ajar serve -m $(MODEL) --host $(HOST) --port $(PORT) --ctx 512

test-release: build
	@cd build/release && ctest --output-on-failure -j $(JOBS)

test-asan: build-asan
	@cd build/asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j $(JOBS)

test-fuzz: build-fuzz
	@cd build/fuzz && ctest --output-on-failure

# The chat page in headless Chromium (Debian's) driven by playwright-core
# (npm); tests/browser/run.sh installs what is missing.
test-browser: build
	@tests/browser/run.sh build/release/ajar

test: test-release test-asan test-fuzz test-browser

clean:
	rm -rf build
