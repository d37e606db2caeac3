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
datadir = $(prefix)/share
sysusersdir ?= /usr/lib/sysusers.d
tmpfilesdir ?= /usr/lib/tmpfiles.d
udevrulesdir ?= /lib/udev/rules.d
bashcompdir ?= $(datadir)/bash-completion/completions
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

PKGS := libbpf libcpuid criterion sqlite3 libsystemd json-c libelf zlib libarchive nettle
# libarchive writes and reads evidence bundles (tar.gz) with its own bounds checks, and
# nettle (which libarchive already links) computes their SHA-256: neither is hand-rolled.
DEB_PKGS := gcc libc6-dev clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev libcpuid-dev \
	libzydis-dev libcriterion-dev libsqlite3-dev libsystemd-dev libjson-c-dev pkg-config binutils \
	libarchive-dev nettle-dev
# What `make deb` and `make rpm` use, and lintian to check the package.
PKG_DEB_PKGS := debhelper devscripts lintian rpm fakeroot
# What the tests and benchmarks use beyond the build: real tools, not mocks.
# chromium renders report.html headless: a screenshot, no network request, no console error.
# QEMU and libvirt's data: the model table is checked against a regeneration from QEMU
# (about 5 s) and against libvirt's own model files.  libclang-rt-14-dev holds libFuzzer and
# the sanitizer runtimes for clang 14 (`make fuzz`).
TEST_DEB_PKGS := clang-format cpuid systemd prometheus-node-exporter prometheus stress-ng bpftrace \
	chromium qemu-system-x86 libvirt0 python3 libclang-rt-14-dev $(PKG_DEB_PKGS)

# Recursively expanded on purpose: pkg-config runs only after `deps` has installed it all.
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
# The tests build hostile archives with libarchive itself.
TEST_LIBS = $(shell $(PKG_CONFIG) --libs libarchive 2>/dev/null)
# libarchive is not linked: formats/archlib.c loads it for the commands that read or write
# evidence bundles, so the daemon does not carry it (nor libxml2, ICU, libstdc++ it needs).
PKG_LIBS = $(shell $(PKG_CONFIG) --libs libbpf libcpuid sqlite3 libsystemd json-c libelf zlib \
	nettle 2>/dev/null) -lZydis -lZycore -lm

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

# libFuzzer targets, one file each: tests/fuzz/fuzz_<name>.c (README, "Fuzzing").
FUZZ_TARGETS := dump_detect dump_libcpuid dump_aida64 dump_cpuid_r dump_json snapjson config \
	recording replay explain attrib isafallback proc_stat proc_maps proc_cgroup proc_environ \
	bundle
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

# `make test` and `make fuzz` build on every CPU unless told otherwise (-j): what they build
# waits for the packages it needs (deps-check, test-deps), so the order holds.
ifneq ($(filter test fuzz,$(MAKECMDGOALS)),)
ifeq ($(filter -j%,$(MAKEFLAGS)),)
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 1)
endif
endif

.DELETE_ON_ERROR:
# Keep skeletons and BPF objects: they are intermediates of a chain, not rubbish.
.SECONDARY:
.PHONY: all deps deps-check test-deps install-debs test bench install uninstall clean check-format format run helpers \
	check-layers models fuzz fuzz-bins

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

# Test programs need Criterion and the other test packages before they compile.
$(TEST_OBJS) $(HELPERS) $(BENCHES): | test-deps

$(TESTBIN): $(TEST_OBJS) $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) $(TEST_LIBS) -lcriterion -o $@

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
	@echo "cpudrift: the evidence store is $(OUT)/state; read it back from another shell with"
	@echo "  $(PROG) status --state-dir $(OUT)/state    (also events, report, evidence)"
	@echo "  or: export CPUDRIFT_STATE_DIR=$(CURDIR)/$(OUT)/state; $(PROG) events --since -10m"
	$(Q)$(PROG) -v run --state-dir $(OUT)/state

# False-alarm soak of the timing analysis: SOAK_DURATION seconds idle, then under stress-ng.
SOAK_DURATION ?= 600
.PHONY: soak
soak: $(PROG)
	$(Q)CPUDRIFT=$(PROG) sh tests/soak/soak.sh $(SOAK_DURATION)

# The QEMU migration lab (tests/vmlab/README.md): live migrations between CPU models with
# cpudrift in the guest.  Not part of `make test`.  LAB_SCENARIOS picks some of: control
# lose-avx2 gain paused lose-aes gain-quiet fleet clock-back many-vcpus systemd systemd-migrate
# (default: all).
# The systemd scenarios install the .deb (`make deb`) in a Debian 12 guest made with
# debootstrap (cached under $(OUT)/vmlab).
LAB_DEB_PKGS := qemu-system-x86 qemu-utils busybox-static linux-image-amd64 cpio python3 cpuid \
	debootstrap e2fsprogs
LAB_DEB := $(OUT)/cpudrift_$(VERSION)-1_amd64.deb
.PHONY: lab
lab: $(PROG)
	@$(MAKE) --no-print-directory install-debs PKGLIST="$(LAB_DEB_PKGS)"
	$(Q)case " $(or $(LAB_SCENARIOS),systemd) " in *" systemd"*) \
		$(MAKE) --no-print-directory deb ;; esac
	$(Q)LAB_DEB=$(CURDIR)/$(LAB_DEB) python3 tests/vmlab/lab.py $(PROG) $(LAB_SCENARIOS)

# The named CPU model tables (detector/analysis/MODELS.md), regenerated from Debian's QEMU
# and libvirt's cpu_map; the test suite checks that the committed ones match.
MODELS_DEB_PKGS := qemu-system-x86 libvirt0 python3
models:
	@$(MAKE) --no-print-directory install-debs PKGLIST="$(MODELS_DEB_PKGS)"
	$(Q)python3 detector/analysis/gen_models.py --out detector/analysis
	$(Q)python3 detector/analysis/crosscheck_models.py --strict | tail -n 1

# --- install --------------------------------------------------------------------------------

catalogdir ?= /usr/lib/systemd/catalog

UNITS := cpudrift.service cpudrift-hooks.service cpudrift-hooks.path

# The units name $(bindir)/cpudrift; the config is never overwritten once installed.  The
# hooks' environment file (hooks.env, which may hold secrets) is not installed: its
# template goes with the documentation.
install: $(PROG)
	install -d $(DESTDIR)$(bindir) $(DESTDIR)$(unitdir) $(DESTDIR)$(catalogdir) \
		$(DESTDIR)$(sysconfdir)/cpudrift/hooks.d $(DESTDIR)$(mandir)/man8 \
		$(DESTDIR)$(sysusersdir) $(DESTDIR)$(tmpfilesdir) $(DESTDIR)$(udevrulesdir) \
		$(DESTDIR)$(bashcompdir) $(DESTDIR)$(datadir)/cpudrift/prometheus
	install -m 0755 $(PROG) $(DESTDIR)$(bindir)/cpudrift
	for u in $(UNITS); do \
		sed 's|/usr/local/bin/cpudrift|$(bindir)/cpudrift|' packaging/systemd/$$u \
			> $(DESTDIR)$(unitdir)/$$u && chmod 0644 $(DESTDIR)$(unitdir)/$$u || exit 1; \
	done
	install -m 0644 packaging/catalog/cpudrift.catalog $(DESTDIR)$(catalogdir)/cpudrift.catalog
	install -m 0644 packaging/cpudrift.8 $(DESTDIR)$(mandir)/man8/cpudrift.8
	install -m 0644 packaging/sysusers.d/cpudrift.conf $(DESTDIR)$(sysusersdir)/cpudrift.conf
	install -m 0644 packaging/tmpfiles.d/cpudrift.conf $(DESTDIR)$(tmpfilesdir)/cpudrift.conf
	install -m 0644 packaging/udev/60-cpudrift.rules $(DESTDIR)$(udevrulesdir)/60-cpudrift.rules
	install -m 0644 packaging/bash-completion/cpudrift $(DESTDIR)$(bashcompdir)/cpudrift
	install -m 0644 packaging/prometheus/*.yml $(DESTDIR)$(datadir)/cpudrift/prometheus/
	[ -e $(DESTDIR)$(sysconfdir)/cpudrift/cpudrift.conf ] || \
		install -m 0644 packaging/cpudrift.conf $(DESTDIR)$(sysconfdir)/cpudrift/cpudrift.conf
	[ -e $(DESTDIR)$(sysconfdir)/cpudrift/hooks.d/50-webhook ] || \
		install -m 0755 packaging/hooks/50-webhook.example \
			$(DESTDIR)$(sysconfdir)/cpudrift/hooks.d/50-webhook

uninstall:
	rm -f $(DESTDIR)$(bindir)/cpudrift $(DESTDIR)$(catalogdir)/cpudrift.catalog \
		$(DESTDIR)$(mandir)/man8/cpudrift.8 $(DESTDIR)$(sysusersdir)/cpudrift.conf \
		$(DESTDIR)$(tmpfilesdir)/cpudrift.conf $(DESTDIR)$(udevrulesdir)/60-cpudrift.rules \
		$(DESTDIR)$(bashcompdir)/cpudrift
	rm -rf $(DESTDIR)$(datadir)/cpudrift
	for u in $(UNITS); do rm -f $(DESTDIR)$(unitdir)/$$u; done

# --- packages -------------------------------------------------------------------------------

# Debian package: dpkg-buildpackage on a copy of the tree with packaging/debian as debian/;
# the .deb, .buildinfo and .changes land in $(OUT)/.
DEB_SRC := $(OUT)/deb/cpudrift-$(VERSION)
.PHONY: deb rpm
deb:
	@$(MAKE) --no-print-directory install-debs PKGLIST="$(DEB_PKGS) $(PKG_DEB_PKGS)"
	$(Q)rm -rf $(OUT)/deb && mkdir -p $(DEB_SRC)
	$(Q)tar -c --exclude=./$(OUT) --exclude=./build --exclude=./.git . | tar -x -C $(DEB_SRC)
	$(Q)cp -r packaging/debian $(DEB_SRC)/debian
	$(call msg,DEB,$(OUT)/cpudrift_$(VERSION)-1_amd64.deb)
	$(Q)cd $(DEB_SRC) && dpkg-buildpackage -us -uc -b $(if $(V),,>../build.log 2>&1) || \
		{ tail -n 40 ../build.log; exit 1; }
	$(Q)mv $(OUT)/deb/*.deb $(OUT)/deb/*.changes $(OUT)/deb/*.buildinfo $(OUT)/

# RPM for Fedora/RHEL 9 built here with rpmbuild from a tarball of the tree (--nodeps: the
# BuildRequires are Fedora's names); it cannot be installed on Debian (nor are its Requires).
# `rpm -qp --scripts $(OUT)/rpm/cpudrift-*.rpm` shows the scriptlets.
RPM_TOP := $(CURDIR)/$(OUT)/rpm
rpm:
	@$(MAKE) --no-print-directory install-debs PKGLIST="$(DEB_PKGS) $(PKG_DEB_PKGS)"
	$(Q)rm -rf $(RPM_TOP) && mkdir -p $(RPM_TOP)/SOURCES
	$(Q)tar -c --exclude=./$(OUT) --exclude=./build --exclude=./.git \
		--transform 's|^\.|cpudrift-$(VERSION)|' . | gzip -1 > $(RPM_TOP)/SOURCES/cpudrift-$(VERSION).tar.gz
	$(Q)cp packaging/sysusers.d/cpudrift.conf $(RPM_TOP)/SOURCES/cpudrift.sysusers
	$(call msg,RPM,$(RPM_TOP))
	$(Q)rpmbuild -bb --nodeps --define '_topdir $(RPM_TOP)' --define 'version_ $(VERSION)' \
		packaging/rpm/cpudrift.spec $(if $(V),,>$(RPM_TOP)/build.log 2>&1) || \
		{ tail -n 40 $(RPM_TOP)/build.log; exit 1; }
	$(Q)find $(RPM_TOP)/RPMS -name '*.rpm' -exec mv {} $(RPM_TOP)/ \;
	$(Q)for r in $(RPM_TOP)/*.rpm; do echo "  RPM      $$r"; done

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

# Only the dependency files of this build: the package and lab trees under $(OUT) hold copies
# of the source (and folders such as tmpfiles.d).
-include $(shell find $(OUT) \( -path $(OUT)/deb -o -path $(OUT)/rpm -o -path $(OUT)/vmlab \) \
	-prune -o -name '*.d' -type f -print 2>/dev/null)
