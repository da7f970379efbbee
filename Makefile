# The two commands a newcomer needs: `make run` and `make test`. Everything else is a helper.
SAMPLE ?= data/samples/pylontech_session.log
JOBS ?= $(shell nproc)

.PHONY: run test build build-asan bootstrap node-deps format format-check fuzz bench clean

run: bootstrap build
	./build/bmslink analyze $(SAMPLE)

test: bootstrap format-check build build-asan node-deps
	ctest --preset release -j $(JOBS)
	ctest --preset asan -j $(JOBS)

bootstrap:
	scripts/bootstrap

# npm packages the tests use (locked in package-lock.json).
node-deps:
	cd tests/oracle/candied && npm ci --no-audit --no-fund --loglevel=error
	cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error

build:
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS)

build-asan:
	cmake --preset asan >/dev/null
	cmake --build --preset asan -j $(JOBS)

format:
	clang-format -i $$(git ls-files '*.h' '*.cc')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.h' '*.cc')

# libFuzzer (clang) builds; FUZZ_SECONDS per reader.
FUZZ_SECONDS ?= 60
fuzz:
	scripts/bootstrap --fuzz
	cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz -j $(JOBS)
	scripts/run_fuzzers build-fuzz $(FUZZ_SECONDS)

bench:
	scripts/bootstrap --bench
	cmake --preset release -DBMSLINK_BENCH=ON >/dev/null
	cmake --build --preset release -j $(JOBS)
	build/decode_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
	bench/run.sh
	bench/analyze_1g.sh

clean:
	rm -rf build build-debug build-asan build-fuzz
