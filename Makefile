# The two commands a newcomer needs: `make run` and `make test`. Everything else is a helper.
SAMPLE ?= data/samples/pylontech_session.log
JOBS ?= $(shell nproc)

.PHONY: run test build build-asan bootstrap node-deps web format format-check fuzz fuzz-campaign bench deb clean

# The web console on http://127.0.0.1:8080/ with the embedded SQLite records; the first start
# loads a demo case with the bundled sample capture. PORT=... to change the port.
PORT ?= 8080
run: bootstrap build
	./build/bmslink serve --port $(PORT) --samples $(SAMPLE)

test: bootstrap format-check build build-asan node-deps
	ctest --preset release -j $(JOBS)
	ctest --preset asan -j $(JOBS)

bootstrap:
	scripts/bootstrap

# npm packages the tests use (locked in package-lock.json).
node-deps:
	cd tests/oracle/candied && npm ci --no-audit --no-fund --loglevel=error
	cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error

# The front end (TypeScript, Vite; locked in web/package-lock.json) into web/dist, which the
# server compiles in.
web:
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent

build: web
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS)

build-asan: web
	cmake --preset asan >/dev/null
	cmake --build --preset asan -j $(JOBS)

format:
	clang-format -i $$(git ls-files '*.h' '*.cc')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.h' '*.cc')

# libFuzzer (clang) builds. FUZZ_SECONDS is each target's budget (FUZZ_SECONDS_<target> sets one
# target's own, FUZZ_TARGETS picks some); `make fuzz-campaign` is the long run (10 minutes each)
# done before a parser change is called clean.
FUZZ_SECONDS ?= 60
fuzz:
	scripts/bootstrap --fuzz
	cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz -j $(JOBS)
	scripts/run_fuzzers build-fuzz $(FUZZ_SECONDS)

fuzz-campaign:
	$(MAKE) fuzz FUZZ_SECONDS=600

# The .deb packages for amd64 and arm64 (Raspberry Pi 4/5 gateways) in dist/: arm64 cross-built
# with Debian's cross toolchain, then every package checked by scripts/smoke_deb (lintian, the
# systemd units, and the packaged binary itself: under qemu-user for arm64). `make test` checks
# the amd64 package only (package.amd64); this target takes ~15 more minutes on 2 cores.
deb: build
	scripts/bootstrap --deb
	scripts/build_arm64 $(JOBS)
	rm -rf dist && mkdir -p dist
	scripts/make_deb amd64 build dist
	scripts/make_deb arm64 build-arm64 dist
	scripts/smoke_deb dist/bmslink_*_amd64.deb
	scripts/smoke_deb dist/bmslink_*_arm64.deb

bench:
	scripts/bootstrap --bench
	cmake --preset release -DBMSLINK_BENCH=ON >/dev/null
	cmake --build --preset release -j $(JOBS)
	build/decode_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
	bench/run.sh
	bench/analyze_1g.sh
	bench/serve.sh
	bench/live.sh
	bench/loggers.sh
	/usr/bin/python3 bench/orders.py --out /tmp/bmslink-bench/results-orders

clean:
	rm -rf build build-debug build-asan build-fuzz build-arm64 dist
