# SPDX-License-Identifier: MIT
#
# The user's entry points. `make check` sets a fresh Debian 12 up (as root) and runs every test
# twice: a gcc -Werror build, then an ASan/UBSan build; it ends with one line "N passed, N failed"
# counting individual test cases. The real work lives in build-aux/; Meson stays the build system.

# Debian 12 packages the build and the tests need; extend this list, nothing else.
DEB_PACKAGES := meson ninja-build pkg-config gcc clang libclang-rt-14-dev libglib2.0-dev \
                python3 curl socat netcat-openbsd \
                libsoup-3.0-dev libjson-glib-dev libhiredis-dev redis-server stun-client openssl \
                libnice-dev libssl-dev libusrsctp-dev chromium \
                coturn iproute2 iptables conntrack iputils-ping \
                iperf3 openssh-server openssh-client \
                redis-tools

BUILD_DIR    ?= build
ASAN_DIR     ?= build-asan
FUZZ_DIR     ?= build-fuzz
BENCH_DIR    ?= build-bench
FUZZ_SECONDS ?= 60
PYTHON       ?= python3

BENCH_TARGETS := $(patsubst %.c,bench/%,$(notdir $(wildcard bench/bench-*.c)))

SUITE   := bash build-aux/meson-suite.sh
SUMMARY := $(PYTHON) build-aux/test-summary.py
WERROR  := -Dwerror=true
ASAN    := -Db_sanitize=address,undefined -Db_lundef=false
ASAN_ENV := PEERPORT_TEST_ASAN=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
            ASAN_OPTIONS=detect_leaks=1 G_SLICE=always-malloc \
            MESON_TEST_ARGS="--timeout-multiplier 3"

.DEFAULT_GOAL := help
.PHONY: help deps demo check check-slow build test asan fuzz bench bench-tunnel clean

help:
	@echo 'peerport make targets:'
	@echo '  make demo    install missing Debian packages (as root), build, then show a web server'
	@echo '               reached through a real tunnel between two peerport processes'
	@echo '  make check   install missing Debian packages (as root), build with gcc -Werror,'
	@echo '               run every test, then again under ASan/UBSan; ends "N passed, N failed"'
	@echo '  make check-slow  build, then the slow tests (a session idle 10 minutes behind NATs)'
	@echo '  make build   configure and build $(BUILD_DIR)/ (gcc, -Werror)'
	@echo '  make test    build and run the tests in $(BUILD_DIR)/ (no package install, no ASan)'
	@echo '  make asan    build and run the tests in $(ASAN_DIR)/ under ASan/UBSan'
	@echo '  make fuzz    build libFuzzer targets with clang in $(FUZZ_DIR)/ and run each'
	@echo '               for FUZZ_SECONDS=$(FUZZ_SECONDS) seconds on a copy of its corpus'
	@echo '  make bench   release build in $(BENCH_DIR)/ and run the benchmarks'
	@echo '  make bench-tunnel  peerport host/join vs direct TCP, ssh -L, socat (~5 min; QUICK=1 ~1)'
	@echo '  make deps    only install (or, when not root, list) the missing Debian packages'
	@echo '  make clean   remove $(BUILD_DIR)/ $(ASAN_DIR)/ $(FUZZ_DIR)/ $(BENCH_DIR)/'

deps:
	@bash build-aux/ensure-deps.sh $(DEB_PACKAGES)

# Both runs always happen, so one summary covers everything; the exit status is the verdict.
check: deps
	@bash -c '. tests/e2e/netns/pp-netns.sh; pp_netns_can_run || \
	  echo "netns tests skipped: $$PP_NETNS_SKIP"'
	@CC=gcc $(SUITE) $(BUILD_DIR) gcc $(WERROR) || true
	@env $(ASAN_ENV) CC=gcc $(SUITE) $(ASAN_DIR) asan $(ASAN) $(WERROR) || true
	@$(SUMMARY) $(BUILD_DIR) $(ASAN_DIR)

# The 10-minute idle-behind-NAT test (tests/e2e/netns/test-nat-idle.sh); needs root.
check-slow: deps build
	@PEERPORT_SLOW=1 meson test -C $(BUILD_DIR) --no-rebuild --print-errorlogs --suite slow

build:
	@CC=gcc $(SUITE) --build-only $(BUILD_DIR) gcc $(WERROR)

demo: deps build
	@bash build-aux/demo.sh $(BUILD_DIR)/src/cli/peerport

test:
	@CC=gcc $(SUITE) $(BUILD_DIR) gcc $(WERROR) || true
	@$(SUMMARY) $(BUILD_DIR)

asan:
	@env $(ASAN_ENV) CC=gcc $(SUITE) $(ASAN_DIR) asan $(ASAN) $(WERROR) || true
	@$(SUMMARY) $(ASAN_DIR)

fuzz:
	@env UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
	  G_SLICE=always-malloc CC=clang bash build-aux/run-fuzz.sh $(FUZZ_DIR) $(FUZZ_SECONDS)

bench:
	@BUILD_TARGETS="$(BENCH_TARGETS)" CC=gcc $(SUITE) --build-only $(BENCH_DIR) bench \
	  --buildtype=release
	@bash build-aux/run-bench.sh $(BENCH_DIR)

# Tunnels end to end (bench/bench-tunnel.sh, docs/benchmarks.md); root for its network namespace.
bench-tunnel:
	@BUILD_TARGETS="src/cli/peerport bench/pp-bench-tcp" CC=gcc $(SUITE) --build-only \
	  $(BENCH_DIR) bench --buildtype=release
	@bash bench/bench-tunnel.sh $(if $(QUICK),--quick) $(BENCH_DIR)

clean:
	@rm -rf $(BUILD_DIR) $(ASAN_DIR) $(FUZZ_DIR) $(BENCH_DIR)
	@echo 'removed $(BUILD_DIR)/ $(ASAN_DIR)/ $(FUZZ_DIR)/ $(BENCH_DIR)/'
