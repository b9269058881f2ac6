# One entry point: deps, build, run, test, bench, fuzz.
#
# Sources are found by wildcard, so a new file needs no edit here:
#   bpf/NAME.bpf.c          -> build/bpf/NAME.bpf.o and build/NAME.skel.h
#   user/{state,agent}/*.c  -> build/libuser.a (user/cli -> build/lbctl)
#   tls-tier/LAYER/*.c      -> build/libtls.a  (process/main.c -> build/lbtls)
#   tests/SUITE/test_*.c    -> build/tests/SUITE/test_* (cmocka)
#   tests/SUITE/test_*.sh   -> run as they are, print "N passed, N failed"
#   tests/fuzz/fuzz_*.c     -> build/fuzz/fuzz_* (libFuzzer, make fuzz) and
#                              build/tests/fuzz/replay_* (corpus, make test)
#
# TLS library of lbtls (DESIGN D10, docs/lbtls.md): `make` builds it with
# OpenSSL 3.0 in build/, `make TLS=boringssl` with Debian's BoringSSL
# (android-libboringssl-dev) in build-boringssl/: lbtls, the tests that
# compile tls-tier code, the fault tests and the TLS benchmarks. Only
# tls-tier code and those tests see the chosen library; lbctl and every
# other program link OpenSSL in both, and no binary links both.

.DELETE_ON_ERROR:
.SUFFIXES:
SHELL := /bin/bash

TLS ?= openssl
BORINGSSL_BUILD ?= build-boringssl
ifeq ($(TLS),boringssl)
BUILD ?= $(BORINGSSL_BUILD)
else
BUILD ?= build
endif
CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool
ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
MULTIARCH := $(shell $(CC) -dumpmachine)

CFLAGS ?= -O2 -g
# lbctl in three layers, each using only those below it: the CLI
# (user/cli), the agent (user/agent), the state library (user/state: maps,
# rings, attach)
USER_INC := -Iuser/state -Iuser/agent -Iuser/cli
# lbtls in layers (docs/lbtls.md, "Structure"): core (loop, buffers, logs,
# config, counters, the upstream set), then tls, http1, http2 and
# discovery on it, the proxy (connections, transactions, pool, health) on
# those, the processes (master, worker, agent link) on top
TLS_LAYERS := core tls http1 http2 discovery proxy process
TLS_INC := $(TLS_LAYERS:%=-Itls-tier/%)
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE \
	  -Iinclude $(USER_INC) $(TLS_INC) -I$(BUILD) -MMD -MP
LDLIBS := -Wl,--as-needed -lxdp -lbpf -lelf -lz -lssl -lcrypto -lyaml \
	  -ljansson -lnghttp2 -lm
TEST_CFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer
TEST_LDLIBS := -lcmocka
# The chosen library's flags, for tls-tier objects and the programs built
# from them (TLS_LDLIBS is LDLIBS with OpenSSL swapped for it).
ifeq ($(TLS),openssl)
TLS_CFLAGS :=
TLS_LIBS := -lssl -lcrypto
else ifeq ($(TLS),boringssl)
BORINGSSL_INC := /usr/include/android
BORINGSSL_LIB := /usr/lib/$(MULTIARCH)/android
BORINGSSL_PKG := $(shell dpkg-query -W -f='$${Version}' android-libboringssl-dev 2>/dev/null)
TLS_CFLAGS := -isystem $(BORINGSSL_INC) -DLBTLS_BORINGSSL_PKG='"$(BORINGSSL_PKG)"'
TLS_LIBS := -L$(BORINGSSL_LIB) -Wl,-rpath,$(BORINGSSL_LIB) -lssl -lcrypto
ifeq ($(filter deps,$(MAKECMDGOALS))$(wildcard $(BORINGSSL_INC)/openssl/is_boringssl.h),)
$(error TLS=boringssl: $(BORINGSSL_INC)/openssl/is_boringssl.h not found (make deps installs android-libboringssl-dev))
endif
else
$(error TLS=$(TLS): expected openssl or boringssl)
endif
TLS_LDLIBS = $(filter-out -lssl -lcrypto,$(LDLIBS)) $(TLS_LIBS)
# A build directory holds one library's objects: its stamp says which.
TLS_STAMP := $(BUILD)/.tls-$(TLS)
ifneq ($(filter-out $(TLS_STAMP),$(wildcard $(BUILD)/.tls-*)),)
$(error $(BUILD) holds a build with $(subst $(BUILD)/.tls-,TLS=,$(wildcard $(BUILD)/.tls-*)), not TLS=$(TLS): choose another BUILD, or make clean BUILD=$(BUILD))
endif
BPF_CFLAGS := -target bpf -g -O2 -Wall -Werror -D__TARGET_ARCH_$(ARCH) \
	      -Iinclude -Ibpf -I/usr/include/$(MULTIARCH)

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/bpf/%.bpf.o)
SKELS := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/%.skel.h)

USER_SRCS := $(filter-out user/cli/main.c,$(wildcard user/*/*.c))
TLS_SRCS := $(filter-out tls-tier/process/main.c,$(wildcard tls-tier/*/*.c))
USER_OBJS := $(USER_SRCS:%.c=$(BUILD)/obj/%.o)
TLS_OBJS := $(TLS_SRCS:%.c=$(BUILD)/obj/%.o)
TLS_TIER_OBJS := $(TLS_OBJS) $(BUILD)/obj/tls-tier/process/main.o

TEST_SRCS := $(wildcard tests/*/test_*.c)
TEST_BINS := $(TEST_SRCS:%.c=$(BUILD)/%)
# tests that compile tls-tier code: built and run with each TLS library
TLS_TESTS := $(patsubst %.c,$(BUILD)/%,$(wildcard tests/unit/test_lbtls_*.c \
	     tests/unit/test_http1.c))
FAULT_TESTS := $(filter $(BUILD)/tests/faults/%,$(TEST_BINS))
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
REPLAY_BINS := $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=$(BUILD)/tests/fuzz/replay_%)

PROGS := $(if $(wildcard user/cli/main.c),$(BUILD)/lbctl) \
	 $(if $(wildcard tls-tier/process/main.c),$(BUILD)/lbtls)
BENCHES := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(wildcard tests/bench/*.c))

.PHONY: all deps test bench bench-xdp bench-steer fuzz format format-check clean \
	docker-up base-image images stack-up stack-down run stop bench-tls \
	bench-loop bench-lat bench-body boringssl
ifeq ($(TLS),boringssl)
# lbtls and what tests it against this library; lbctl as in `make`
all: $(PROGS) $(TLS_TESTS) $(FAULT_TESTS) $(BUILD)/bench/fast_backend \
	$(BUILD)/bench/bench_handshake
else
all: $(BPF_OBJS) $(SKELS) $(PROGS) $(TEST_BINS) $(REPLAY_BINS) $(BENCHES)
endif
# the BoringSSL build next to this one (make test runs both)
boringssl:
	$(MAKE) TLS=boringssl BUILD=$(BORINGSSL_BUILD) all

# --- dependencies (Debian 12, as root; idempotent) -------------------------
DEB_PKGS := clang llvm libclang-rt-14-dev gcc make pkg-config libbpf-dev \
	libxdp-dev xdp-tools bpftool linux-libc-dev libelf-dev zlib1g-dev \
	libssl-dev openssl libcmocka-dev libyaml-dev libjansson-dev \
	iproute2 iputils-ping procps psmisc curl wrk nghttp2-client nginx \
	haproxy python3-flask python3-scapy clang-format bc shellcheck liburing-dev \
	gnuplot-nox android-libboringssl-dev libnghttp2-dev python3-h2 \
	python3-hyperframe python3-hpack \
	docker.io docker-compose containerd runc iptables debootstrap \
	pebble certbot bird2 ethtool tcpdump

deps:
	@missing=$$(for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
		grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "deps: all Debian packages present"; fi
	@mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

# --- BPF ---------------------------------------------------------------------
$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@

# --- user space --------------------------------------------------------------
$(BUILD)/obj/%.o: %.c $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@
$(TLS_TIER_OBJS): $(BUILD)/obj/%.o: %.c $(SKELS) $(TLS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(TLS_CFLAGS) -c $< -o $@
$(TLS_STAMP):
	@mkdir -p $(@D)
	touch $@

# the layers' direction, enforced: a layer sees only its own and lower headers
$(BUILD)/obj/user/%.o: TLS_INC :=
$(BUILD)/obj/tls-tier/%.o: USER_INC :=
$(BUILD)/obj/user/state/%.o: USER_INC := -Iuser/state
$(BUILD)/obj/user/agent/%.o: USER_INC := -Iuser/state -Iuser/agent
$(BUILD)/obj/tls-tier/core/%.o: TLS_INC := -Itls-tier/core
$(BUILD)/obj/tls-tier/tls/%.o: TLS_INC := -Itls-tier/core -Itls-tier/tls
$(BUILD)/obj/tls-tier/http1/%.o: TLS_INC := -Itls-tier/http1
$(BUILD)/obj/tls-tier/http2/%.o: TLS_INC := -Itls-tier/core -Itls-tier/http1 \
	-Itls-tier/http2
$(BUILD)/obj/tls-tier/discovery/%.o: TLS_INC := -Itls-tier/core \
	-Itls-tier/discovery
$(BUILD)/obj/tls-tier/proxy/%.o: TLS_INC := $(filter-out \
	-Itls-tier/discovery -Itls-tier/process,$(TLS_INC))
$(BUILD)/libuser.a: $(USER_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/libtls.a: $(TLS_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/lbctl: $(BUILD)/obj/user/cli/main.o $(BUILD)/libuser.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
$(BUILD)/lbtls: $(BUILD)/obj/tls-tier/process/main.o $(BUILD)/libtls.a
	$(CC) $(CFLAGS) $^ -o $@ $(TLS_LDLIBS)

# --- tests, benchmarks, fuzzing -------------------------------------------------
# A unit test may #include the .c under test to reach its statics (H2O's
# habit); the archives supply everything else.
$(BUILD)/tests/%: tests/%.c $(SKELS) $(BUILD)/libuser.a $(BUILD)/libtls.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(TEST_CFLAGS) $< $(BUILD)/libuser.a $(BUILD)/libtls.a \
		-o $@ $(TEST_LDLIBS) $(LDLIBS)
# tls-tier code under test, with the chosen library (no lbctl code)
$(TLS_TESTS): USER_INC :=
$(TLS_TESTS): $(BUILD)/tests/%: tests/%.c $(BUILD)/libtls.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(TLS_CFLAGS) $(TEST_CFLAGS) $< $(BUILD)/libtls.a \
		-o $@ $(TEST_LDLIBS) $(TLS_LDLIBS)
ifeq ($(TLS),boringssl)
# the fault tests' clients are OpenSSL's; they run $(BUILD)/lbtls
$(FAULT_TESTS): $(BUILD)/tests/%: tests/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(TEST_CFLAGS) $< -o $@ $(TEST_LDLIBS) $(LDLIBS)
endif

$(BUILD)/bench/%: tests/bench/%.c $(SKELS) $(BUILD)/libuser.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< $(BUILD)/libuser.a -o $@ $(LDLIBS)
# flood_gen -x: its XDP program (live frames), a skeleton in $(BUILD)/bench
$(BUILD)/bench/bpf/%.bpf.o: tests/bench/bpf/%.bpf.c
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/bench/%.skel.h: $(BUILD)/bench/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@
$(BUILD)/bench/flood_gen: $(BUILD)/bench/flood_tx.skel.h
.SECONDARY: $(BUILD)/bench/bpf/flood_tx.bpf.o $(BUILD)/bench/flood_tx.skel.h
# epoll against io_uring, the event-loop choice of lbtls (docs/lbtls.md)
$(BUILD)/bench/bench_loop: LDLIBS += -luring
# in-process cost of a new TLS connection with lbtls's own SSL_CTX
$(BUILD)/bench/bench_handshake: tests/bench/bench_handshake.c $(BUILD)/libtls.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(TLS_CFLAGS) $< $(BUILD)/libtls.a -o $@ $(TLS_LDLIBS)

FUZZ_FLAGS := -g -O1 -std=gnu11 -D_GNU_SOURCE -Iinclude $(TLS_INC) \
	      -fsanitize=address,undefined -fno-sanitize-recover=all -MMD -MP
$(BUILD)/fuzz/%: tests/fuzz/%.c
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_FLAGS) -fsanitize=fuzzer $< -o $@ $(LDLIBS)
# The target is compiled on its own so that its .d lists what it includes
# (with two sources in one command, the .d names only the last one).
$(BUILD)/tests/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay_main.c
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_FLAGS) -MF $@.d -MT $@ -c $< -o $@.o
	$(CLANG) $(filter-out -MMD -MP,$(FUZZ_FLAGS)) tests/fuzz/replay_main.c \
		$@.o -o $@ $(LDLIBS)

# Both TLS libraries: every suite on $(BUILD), then unit, faults and tls
# again on the BoringSSL build (tests/run-suites.sh, "boringssl:" names).
ifeq ($(TLS),boringssl)
test: all
	@SUITES="$${SUITES:-unit faults tls}" tests/run-suites.sh $(BUILD)
else
test: all boringssl
	@BORINGSSL_BUILD=$(BORINGSSL_BUILD) tests/run-suites.sh $(BUILD)
endif

FUZZ_SECONDS ?= 60
fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do n=$${f##*/fuzz_}; \
		mkdir -p tests/fuzz/corpus/$$n; \
		$$f -max_total_time=$(FUZZ_SECONDS) tests/fuzz/corpus/$$n || exit 1; \
	done

# The whole stack against nginx and HAProxy: docs/performance.md and its
# plot; the last line printed is "bench: hs_ratio_vs_nginx=R ...".
bench: all
	$(MAKE) TLS=boringssl BUILD=$(BORINGSSL_BUILD) $(BORINGSSL_BUILD)/lbtls
	tests/bench/bench_report.sh $(BUILD) $(BORINGSSL_BUILD)
bench-xdp: $(BUILD)/bench/bench_xdp
	$(BUILD)/bench/bench_xdp
bench-steer: $(BUILD)/bench/bench_steer
	$(BUILD)/bench/bench_steer
# scale-out's XDP forwarding and decapsulation against the floor alone
# (make bench-scaleout runs it first, then the namespace figures)
.PHONY: bench-scaleout-xdp
bench-scaleout-xdp: $(BUILD)/bench/bench_scaleout_xdp
	$(BUILD)/bench/bench_scaleout_xdp
# lbtls (both TLS builds) against nginx and HAProxy, one core each (about
# 9 minutes)
bench-tls: $(BUILD)/lbtls $(BUILD)/bench/fast_backend
	$(MAKE) TLS=boringssl BUILD=$(BORINGSSL_BUILD) $(BORINGSSL_BUILD)/lbtls
	tests/bench/bench_tls.sh $(BUILD) $(BORINGSSL_BUILD)
# HTTP/2 to clients: lbtls (both TLS builds) against nginx and HAProxy,
# h2load with 10 streams per connection, p99 at a fixed rate, and the same
# load under one rapid-reset attacker (docs/bench-h2.md, about 8 minutes)
.PHONY: bench-h2
bench-h2: $(BUILD)/lbtls $(BUILD)/bench/fast_backend $(BUILD)/bench/h2_rapid_reset
	$(MAKE) TLS=boringssl BUILD=$(BORINGSSL_BUILD) $(BORINGSSL_BUILD)/lbtls
	tests/bench/bench_h2.sh $(BUILD) $(BORINGSSL_BUILD)
# what request buffering costs: POST bodies (1k, 64k) on keep-alive TLS,
# lbtls buffered and streamed against nginx, one core each (about 10 minutes)
bench-body: $(BUILD)/lbtls $(BUILD)/bench/fast_backend
	tests/bench/bench_body.sh $(BUILD)
# latency at make bench's fixed rate, nginx against lbtls (or several lbtls
# binaries: tests/bench/bench_lat.sh BUILD NAME=BIN ...), loopback, about
# 2 minutes (docs/performance.md, "Latency at a fixed rate")
bench-lat: $(BUILD)/lbtls $(BUILD)/bench/fast_backend
	tests/bench/bench_lat.sh $(BUILD)
# the event loop: epoll against io_uring on lbtls's I/O pattern
bench-loop: $(BUILD)/bench/bench_loop $(BUILD)/bench/fast_backend
	tests/bench/bench_loop.sh $(BUILD)
# scale-out (docs/bench-scaleout.md, about 4 minutes): XDP forwarding cost,
# live bpf_stats, throughput with 1-3 balancer hosts, connections lost on
# changes; the last line is "scaleout: fwd_ns_ratio=R ...".
.PHONY: bench-scaleout
bench-scaleout: $(PROGS) $(BUILD)/bench/fast_backend $(BUILD)/bench/flood_client \
		$(BUILD)/bench/bench_scaleout_xdp
	tests/bench/bench_scaleout.sh $(BUILD)
# legitimate TLS handshakes under a spoofed SYN flood: nginx, lbtls with and
# without XDP flood defence (docs/flood.md, about 6 minutes)
.PHONY: bench-flood
bench-flood: $(PROGS) $(BUILD)/bench/fast_backend $(BUILD)/bench/flood_gen \
	     $(BUILD)/bench/flood_client
	tests/bench/bench_flood.sh $(BUILD)

# --- the whole system (docker/stack.sh; STACK, IFACE, DOMAIN, WORKERS) ------
run: deps $(PROGS)
	BUILD=$(BUILD) docker/stack.sh up
stop:
	BUILD=$(BUILD) docker/stack.sh down

# --- Docker (docs/docker.md): engine, offline base image, app images ------
docker-up: deps
	docker/dockerd-up.sh
base-image: docker-up
	docker/base-image.sh
images: base-image
	BUILD=$(BUILD) docker/build-images.sh
stack-up: images
	docker-compose -f docker/docker-compose.yml up -d
stack-down:
	docker-compose -f docker/docker-compose.yml down

# --- formatting ----------------------------------------------------------------
FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_SRCS)
format-check:
	@clang-format --dry-run --Werror $(FORMAT_SRCS) && echo "format-check: ok"

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
