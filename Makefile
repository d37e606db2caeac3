# SPDX-License-Identifier: GPL-2.0-or-later
#
# cpudrift build.  `make` builds build/cpudrift; `make test`, `make bench`, `make install`.
# Quiet kernel-style lines; V=1 prints full commands.  Missing Debian packages are installed
# by the `deps` step (it says what it installs).

OUT ?= build
CC ?= gcc
CLANG ?= clang
LLVM_STRIP ?= llvm-strip
BPFTOOL ?= bpftool
PKG_CONFIG ?= pkg-config
prefix ?= /usr/local
DESTDIR ?=
bindir = $(prefix)/bin
mandir = $(prefix)/share/man
sysconfdir ?= /etc
unitdir ?= /lib/systemd/system
EXTRA_CFLAGS ?=
EXTRA_LDFLAGS ?=

# SAN=1 builds everything with ASan and UBSan (CI runs the suite this way).  SAN=fuzz and
# SAN=fuzz-speed are the libFuzzer builds `make fuzz` and `make bench` ask for (with clang).
SAN ?=
ifeq ($(SAN),1)
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
else ifeq ($(SAN),fuzz)
SAN_FLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
else ifeq ($(SAN),fuzz-speed)
SAN_FLAGS := -fsanitize=fuzzer-no-link
endif
ifneq ($(filter fuzz fuzz-speed,$(SAN)),)
# clang 14's own assembler lacks the newest instructions the probes run: GNU as builds them.
$(OUT)/probes/%.o: EXTRA_CFLAGS += -fno-integrated-as
endif

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

PKGS := libbpf libcpuid criterion sqlite3 libsystemd json-c libelf zlib
DEB_PKGS := gcc libc6-dev clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev libcpuid-dev \
	libzydis-dev libcriterion-dev libsqlite3-dev libsystemd-dev libjson-c-dev pkg-config binutils
# What the tests and benchmarks use beyond the build: real tools, not mocks.  libclang-rt-14-dev
# holds libFuzzer and the sanitizer runtimes for clang 14 (`make fuzz`).
TEST_DEB_PKGS := clang-format cpuid systemd prometheus-node-exporter prometheus stress-ng bpftrace \
	libclang-rt-14-dev

# Recursively expanded on purpose: pkg-config runs only after `deps` has installed it all.
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell $(PKG_CONFIG) --libs libbpf libcpuid sqlite3 libsystemd json-c libelf zlib 2>/dev/null) -lZydis -lZycore

# The program is built for the baseline x86-64 so that it survives a migration that takes
# features away (see README, "It must survive what it watches").
ARCH_FLAGS := -march=x86-64 -mtune=generic
CFLAGS ?= -O2 -g
VERSION := 0.1.0
ALL_CFLAGS = -std=gnu11 -DCPUDRIFT_VERSION='"$(VERSION)"' $(ARCH_FLAGS) $(CFLAGS) -Wall -Wextra -Werror -Werror=undef \
	-Wno-missing-field-initializers -D_GNU_SOURCE -MMD -MP \
	-I$(OUT) -iquote detector -iquote . $(PKG_CFLAGS) $(SAN_FLAGS) $(EXTRA_CFLAGS)
ALL_LDFLAGS = $(SAN_FLAGS) $(EXTRA_LDFLAGS)

BPF_ARCH := x86
# bpf/vmlinux.h is committed (bpftool btf dump of a 6.18 x86_64 kernel); CO-RE relocates
# field offsets at load time, so it serves other kernels too.
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(BPF_ARCH) -Wall -Werror -Ibpf -I$(OUT)

DETECTOR_SRCS := $(wildcard detector/*/*.c)
PROBE_SRCS := $(wildcard probes/*.c)
BPF_SRCS := $(wildcard bpf/*.bpf.c)
TEST_SRCS := $(wildcard tests/unit/*.c)
HELPER_SRCS := $(wildcard tests/helpers/*.c)
BENCH_SRCS := $(wildcard tests/bench/bench_*.c)

# libFuzzer targets, one file each: tests/fuzz/fuzz_<name>.c (README, "Fuzzing").  The
# evidence bundle reader (branch report) gets its target here once it exists: bundle.
FUZZ_TARGETS := dump_detect dump_libcpuid dump_aida64 dump_cpuid_r dump_json snapjson config \
	recording replay explain attrib isafallback proc_stat proc_maps proc_cgroup proc_environ
FUZZ_SRCS := $(patsubst %,tests/fuzz/fuzz_%.c,$(FUZZ_TARGETS))

LIB_OBJS := $(patsubst %.c,$(OUT)/%.o,$(filter-out detector/cli/main.c,$(DETECTOR_SRCS)) $(PROBE_SRCS))
MAIN_OBJ := $(OUT)/detector/cli/main.o
SKELS := $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))
# The unit suite links the fuzz targets too: it replays their committed regressions.
TEST_OBJS := $(patsubst %.c,$(OUT)/%.o,$(TEST_SRCS) tests/fuzz/fuzz.c $(FUZZ_SRCS))
HELPERS := $(patsubst tests/helpers/%.c,$(OUT)/tests/helpers/%,$(HELPER_SRCS))
BENCHES := $(patsubst tests/bench/%.c,$(OUT)/bench/%,$(BENCH_SRCS))

PROG := $(OUT)/cpudrift
TESTBIN := $(OUT)/tests/unit_tests

.DELETE_ON_ERROR:
# Keep skeletons and BPF objects: they are intermediates of a chain, not rubbish.
.SECONDARY:
.PHONY: all deps deps-check test-deps install-debs test bench install uninstall clean check-format format run helpers \
	check-layers fuzz fuzz-bins

all: $(PROG)

# --- dependencies ---------------------------------------------------------------------------

deps-check:
	@missing=""; \
	command -v $(PKG_CONFIG) >/dev/null 2>&1 || missing=1; \
	command -v $(CLANG) >/dev/null 2>&1 || missing=1; \
	command -v $(BPFTOOL) >/dev/null 2>&1 || missing=1; \
	command -v $(LLVM_STRIP) >/dev/null 2>&1 || missing=1; \
	command -v as >/dev/null 2>&1 || missing=1; \
	[ -f /usr/include/Zydis/Zydis.h ] || missing=1; \
	[ -n "$$missing" ] || $(PKG_CONFIG) --exists $(PKGS) 2>/dev/null || missing=1; \
	if [ -n "$$missing" ]; then $(MAKE) --no-print-directory deps; fi

deps:
	@$(MAKE) --no-print-directory install-debs PKGLIST="$(DEB_PKGS)"

test-deps: deps-check
	@$(MAKE) --no-print-directory install-debs PKGLIST="$(TEST_DEB_PKGS)"

install-debs:
	@if ! command -v apt-get >/dev/null 2>&1; then \
		echo "cpudrift: no apt-get here; install: $(PKGLIST)" >&2; \
		exit 1; \
	fi; \
	need=""; for p in $(PKGLIST); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || need="$$need $$p"; \
	done; \
	if [ -n "$$need" ]; then \
		echo "cpudrift: installing Debian packages:$$need"; \
		if [ "$$(id -u)" != 0 ]; then echo "cpudrift: run as root to install them" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need; \
	fi

# --- BPF ------------------------------------------------------------------------------------

$(OUT)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) | $(OUT)/bpf deps-check
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@

$(OUT)/%.skel.h: $(OUT)/bpf/%.bpf.o | $(OUT)
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

# --- user space -----------------------------------------------------------------------------

$(OUT)/%.o: %.c | deps-check $(SKELS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -DCPUDRIFT_SRCDIR='"$(CURDIR)"' -c $< -o $@

$(PROG): $(MAIN_OBJ) $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) -o $@

$(TESTBIN): $(TEST_OBJS) $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) -lcriterion -o $@

# Test helper programs (fault generators and the like) are built plainly: no sanitizers,
# so that their faults are the ones the tests ask for.
$(OUT)/tests/helpers/%: tests/helpers/%.c | deps-check
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) -std=gnu11 -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE $< -o $@

$(OUT)/bench/%: tests/bench/%.c $(LIB_OBJS) | deps-check
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -DCPUDRIFT_SRCDIR='"$(CURDIR)"' $< $(LIB_OBJS) $(ALL_LDFLAGS) $(PKG_LIBS) -o $@

# A fuzz target: its own file with libFuzzer's entry point, over objects built with SAN=fuzz.
$(OUT)/fuzz_%: tests/fuzz/fuzz_%.c $(OUT)/tests/fuzz/fuzz.o $(LIB_OBJS) | deps-check
	$(call msg,FUZZ-LD,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -DFUZZ_LIBFUZZER $< $(OUT)/tests/fuzz/fuzz.o $(LIB_OBJS) \
		$(ALL_LDFLAGS) -fsanitize=fuzzer $(PKG_LIBS) -o $@

fuzz-bins: $(patsubst %,$(OUT)/fuzz_%,$(FUZZ_TARGETS))

$(OUT) $(OUT)/bpf:
	@mkdir -p $@

helpers: $(HELPERS)

# --- test, bench, run -----------------------------------------------------------------------

# Criterion runs every suite; live suites skip with a reason when not root or without BTF.
test: test-deps $(PROG) $(TESTBIN) $(HELPERS)
	$(call msg,TEST,$(TESTBIN))
	$(Q)CPUDRIFT_BUILD=$(CURDIR)/$(OUT) $(TESTBIN) --jobs 1 $(TEST_ARGS)

# The fuzzing figure is libFuzzer's own executions per second over a short run, built
# without ASan or UBSan (SAN=fuzz-speed): the parsers' speed, not the sanitizers'.
FUZZ_BENCH_SECONDS ?= 5
bench: test-deps $(PROG) $(BENCHES) $(HELPERS)
	$(Q)for b in $(BENCHES); do CPUDRIFT_BUILD=$(CURDIR)/$(OUT) $$b || exit 1; done
	$(Q)$(MAKE) --no-print-directory OUT=$(OUT)/fuzz-speed SAN=fuzz-speed CC=$(CLANG) fuzz-bins
	$(Q)sh tests/fuzz/run.sh bench $(FUZZ_BENCH_SECONDS) $(OUT)/fuzz-speed $(PROG) $(FUZZ_TARGETS)

# Every fuzz target for FUZZ_SECONDS (ASan + UBSan), seeds made now from tests/fixtures and
# ../shared/data; fails on a crash, a hang, a leak or a broken check (tests/fuzz/run.sh).
FUZZ_SECONDS ?= 60
fuzz: test-deps $(PROG)
	$(Q)$(MAKE) --no-print-directory OUT=$(OUT)/fuzz SAN=fuzz CC=$(CLANG) fuzz-bins
	$(Q)sh tests/fuzz/run.sh fuzz $(FUZZ_SECONDS) $(OUT)/fuzz $(PROG) $(FUZZ_TARGETS)

# The main job on built-in defaults: the service in the foreground, its store under $(OUT).
run: $(PROG)
	$(Q)mkdir -p $(OUT)/state
	$(Q)$(PROG) -v run --state-dir $(OUT)/state

# False-alarm soak of the timing analysis: SOAK_DURATION seconds idle, then under stress-ng.
SOAK_DURATION ?= 600
.PHONY: soak
soak: $(PROG)
	$(Q)CPUDRIFT=$(PROG) sh tests/soak/soak.sh $(SOAK_DURATION)

# The QEMU migration lab (tests/vmlab/README.md): live migrations between CPU models with
# cpudrift in the guest.  Not part of `make test`.  LAB_SCENARIOS picks some of: control
# lose-avx2 gain paused (default: all).
LAB_DEB_PKGS := qemu-system-x86 busybox-static linux-image-amd64 cpio python3
.PHONY: lab
lab: $(PROG)
	@$(MAKE) --no-print-directory install-debs PKGLIST="$(LAB_DEB_PKGS)"
	$(Q)python3 tests/vmlab/lab.py $(PROG) $(LAB_SCENARIOS)

# --- install --------------------------------------------------------------------------------

catalogdir ?= /usr/lib/systemd/catalog

# The unit names $(bindir)/cpudrift; the config is never overwritten once installed.
install: $(PROG)
	install -d $(DESTDIR)$(bindir) $(DESTDIR)$(unitdir) $(DESTDIR)$(catalogdir) \
		$(DESTDIR)$(sysconfdir)/cpudrift/hooks.d $(DESTDIR)$(mandir)/man8
	install -m 0755 $(PROG) $(DESTDIR)$(bindir)/cpudrift
	sed 's|/usr/local/bin/cpudrift|$(bindir)/cpudrift|' packaging/systemd/cpudrift.service \
		> $(DESTDIR)$(unitdir)/cpudrift.service
	chmod 0644 $(DESTDIR)$(unitdir)/cpudrift.service
	install -m 0644 packaging/catalog/cpudrift.catalog $(DESTDIR)$(catalogdir)/cpudrift.catalog
	install -m 0644 packaging/cpudrift.8 $(DESTDIR)$(mandir)/man8/cpudrift.8
	[ -e $(DESTDIR)$(sysconfdir)/cpudrift/cpudrift.conf ] || \
		install -m 0644 packaging/cpudrift.conf $(DESTDIR)$(sysconfdir)/cpudrift/cpudrift.conf

uninstall:
	rm -f $(DESTDIR)$(bindir)/cpudrift $(DESTDIR)$(unitdir)/cpudrift.service \
		$(DESTDIR)$(catalogdir)/cpudrift.catalog $(DESTDIR)$(mandir)/man8/cpudrift.8

# --- style ----------------------------------------------------------------------------------

FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null | grep -v '^bpf/vmlinux')

# Each layer includes only the layers below it (README, "Layers").
check-layers:
	$(Q)sh detector/check-layers.sh detector

check-format:
	$(Q)clang-format --dry-run -Werror $(FORMAT_SRCS)

format:
	$(Q)clang-format -i $(FORMAT_SRCS)

clean:
	rm -rf $(OUT)

-include $(shell find $(OUT) -name '*.d' 2>/dev/null)
