# Ethos Resource Watchdog - build, test and benchmark entry points.
#
#   make            build the C test programs and ethos-clockd (benchmarks:
#                   make bench)
#   make run        run the watchdog with default settings (as root)
#   make test       everything: unit + host + both VMs (same as ./test.sh)
#   make test-unit  unit tests, no root needed (builds build/ethoswd for the parity test)
#   make lint       flake8 over the Python (.flake8), clang-format over the C
#                   (.clang-format); `make format` rewrites the C
#   make test-host  BPF tests on the running kernel (root)
#   make fresh-check  install + lint + unit + some host tests in a fresh Debian 12
#                   minbase chroot (tests/fresh/run.sh): does install.sh --tests
#                   bring everything? (root; not part of ./test.sh)
#   make vm-test    the VM suite in every kernel (see vm/Makefile.inc)
#   make bench      overhead / start-up / scaling benchmarks (root)
#   make soak       64 aggressive + 64 normal readers: SOAK_S s on the host
#                   (throttle, default 600), SOAK_VM_S s in the debian VM (deny, 120);
#                   and process churn: SOAK_S/3 thousand short-lived processes
#                   (200 000) per front end and key, on the host
#   make ethoswd    the C front end on libbpf: build/ethoswd (see src/main.c)
#   make ethoswd-asan  the same under AddressSanitizer + UBSan: build/ethoswd-asan
#   make clockd     build/ethos-clockd, the --jitter supervisor both front ends
#                   start (src/jitter/; gcc and libc headers only)
#   make install    ethoswd, its systemd unit and /etc/default/ethoswd (as root)
PY ?= /usr/bin/python3
PYTEST ?= $(PY) -m pytest

all: progs clockd

progs:
	$(MAKE) -C tests/progs

run:
	$(PY) ./watchdog.py

test:
	./test.sh

test-unit: progs ethoswd clockd
	$(PYTEST) -q tests/unit

# Every tracked C file, for clang-format (config: .clang-format).
C_FILES = $(shell git ls-files 'probe/*.[ch]' 'src/*.[ch]' 'tests/progs/*.[ch]' 'bench/*.[ch]' \
		  'research/*.[ch]' 2>/dev/null)

lint:
	$(PY) -m flake8
	@test -n "$(C_FILES)" || { echo "lint: no C files: git ls-files found none" \
	    "(is git installed? ./install.sh --tests)" >&2; exit 1; }
	clang-format --dry-run --Werror $(C_FILES)

format:
	clang-format -i $(C_FILES)

test-host: progs clockd
	$(PYTEST) -q tests/host

fresh-check:
	tests/fresh/run.sh

bench: progs
	$(MAKE) -C bench run

# The soak (tests/soak): host first, then the debian guest; both always run.
SOAK_S ?= 600
SOAK_VM_S ?= 120
soak: progs ethoswd
	@fail=0; \
	SOAK_S=$(SOAK_S) $(PYTEST) -q -s tests/soak || fail=1; \
	$(VM_RUN) --kernel debian --timeout 1800 --env SOAK_S=$(SOAK_VM_S) -- \
	    $(VM_PYTHON) -m pytest -q -s tests/soak || fail=1; \
	exit $$fail

clean:
	$(MAKE) -C tests/progs clean
	-$(MAKE) -C bench clean
	rm -rf $(BUILD)

# ---- ethoswd: the probe compiled once (CO-RE), a skeleton, a C program ----
# Build needs (Debian 12): clang, llvm, bpftool, libbpf-dev, libmicrohttpd-dev
# and this machine's BTF for vmlinux.h.  Run-time needs: libbpf1,
# libmicrohttpd12 (--metrics-listen) and the running kernel's BTF; no
# compiler, no headers.
BUILD ?= build
CC ?= gcc
BPF_CLANG ?= clang
ETHOSWD_CFLAGS ?= -std=gnu11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
ETHOSWD_SRC := $(filter-out src/test_%.c,$(wildcard src/*.c))
PROBE_SRC := probe/watchdog.bpf.c $(wildcard probe/*.h)
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux

ethoswd: $(BUILD)/ethoswd $(BUILD)/ethos-clockd
ethoswd-asan: $(BUILD)/ethoswd-asan $(BUILD)/ethos-clockd

# The --jitter supervisor (src/jitter/clockd.c): its own program, found next
# to ethoswd and in build/ by watchdog.py.  Needs gcc and libc headers only.
CLOCKD_SRC := $(filter-out src/jitter/test_%.c,$(wildcard src/jitter/*.c))
clockd: $(BUILD)/ethos-clockd

$(BUILD)/ethos-clockd: $(CLOCKD_SRC) $(wildcard src/jitter/*.h) probe/jitter_clamp.h
	@mkdir -p $(BUILD)
	$(CC) $(ETHOSWD_CFLAGS) -Iprobe -iquote src/jitter $(CLOCKD_SRC) -o $@

$(BUILD)/vmlinux.h:
	@mkdir -p $(BUILD)
	bpftool btf dump file $(VMLINUX_BTF) format c > $@.tmp && mv $@.tmp $@

# -g for BTF; llvm-strip -g then drops the DWARF (the .BTF sections stay).
$(BUILD)/watchdog.bpf.o: $(PROBE_SRC) $(BUILD)/vmlinux.h
	$(BPF_CLANG) -g -O2 -target bpf -D__TARGET_ARCH_x86 -DWD_LIBBPF \
	    -I$(BUILD) -Iprobe -Wall -Werror -c probe/watchdog.bpf.c -o $@
	llvm-strip -g $@

$(BUILD)/watchdog.skel.h: $(BUILD)/watchdog.bpf.o
	bpftool gen skeleton $< name watchdog_bpf > $@.tmp && mv $@.tmp $@

# --jitter's BPF modes: their own object (probe/jitter.bpf.c, src/jitter_bpf.c).
JITTER_BPF_SRC := probe/jitter.bpf.c probe/jitter_bpf.h probe/jitter_clamp.h \
	probe/jitter_compat.h probe/jitter_hold.h probe/jitter_write.h probe/libbpf_maps.h
$(BUILD)/jitter.bpf.o: $(JITTER_BPF_SRC) $(BUILD)/vmlinux.h
	$(BPF_CLANG) -g -O2 -target bpf -D__TARGET_ARCH_x86 -DWD_LIBBPF \
	    -I$(BUILD) -Iprobe -Wall -Werror -c probe/jitter.bpf.c -o $@
	llvm-strip -g $@

$(BUILD)/jitter.skel.h: $(BUILD)/jitter.bpf.o
	bpftool gen skeleton $< name jitter_bpf > $@.tmp && mv $@.tmp $@

$(BUILD)/ethoswd: $(ETHOSWD_SRC) $(wildcard src/*.h) probe/options.def $(BUILD)/watchdog.skel.h \
    $(BUILD)/jitter.skel.h probe/jitter_cover.h
	$(CC) $(ETHOSWD_CFLAGS) -iquote src -iquote $(BUILD) $(ETHOSWD_SRC) -lbpf -lmicrohttpd -lm \
	    -o $@

$(BUILD)/ethoswd-asan: $(ETHOSWD_SRC) $(wildcard src/*.h) probe/options.def $(BUILD)/watchdog.skel.h \
    $(BUILD)/jitter.skel.h probe/jitter_cover.h
	$(CC) $(ETHOSWD_CFLAGS) $(SANITIZE) -iquote src -iquote $(BUILD) $(ETHOSWD_SRC) \
	    -lbpf -lmicrohttpd -lm -o $@

# Checks the cut CO-RE BTF against the whole one (tests/host/test_cfront_minbtf.py).
$(BUILD)/test_minbtf: src/test_minbtf.c src/minbtf.c src/kbtf.c src/text.c $(wildcard src/*.h) \
    $(BUILD)/watchdog.skel.h
	$(CC) $(ETHOSWD_CFLAGS) -iquote src -iquote $(BUILD) src/test_minbtf.c src/minbtf.c \
	    src/kbtf.c src/text.c -lbpf -o $@

PREFIX ?= /usr/local
SYSTEMD_DIR ?= /etc/systemd/system
install: $(BUILD)/ethoswd $(BUILD)/ethos-clockd
	install -D -m 0755 $(BUILD)/ethoswd $(DESTDIR)$(PREFIX)/sbin/ethoswd
	install -D -m 0755 $(BUILD)/ethos-clockd $(DESTDIR)$(PREFIX)/sbin/ethos-clockd
	install -D -m 0644 packaging/ethoswd.service $(DESTDIR)$(SYSTEMD_DIR)/ethoswd.service
	sed -i 's|@SBINDIR@|$(PREFIX)/sbin|' $(DESTDIR)$(SYSTEMD_DIR)/ethoswd.service
	@# Keep an operator's own settings; one of the old ETHOSWD_OPTS="..."
	@# kind (not TOML) is kept as ethoswd.old and replaced.
	@if grep -qs '^ETHOSWD_OPTS=' $(DESTDIR)/etc/default/ethoswd; then \
	    mv $(DESTDIR)/etc/default/ethoswd $(DESTDIR)/etc/default/ethoswd.old; \
	    echo "install: /etc/default/ethoswd is now TOML (ethoswd --config); the old" \
	         "ETHOSWD_OPTS file is /etc/default/ethoswd.old: carry its options over"; fi
	test -e $(DESTDIR)/etc/default/ethoswd || \
	    install -D -m 0644 packaging/ethoswd.default $(DESTDIR)/etc/default/ethoswd

.PHONY: all progs run test test-unit lint format test-host fresh-check bench soak clean ethoswd ethoswd-asan \
	clockd install

-include vm/Makefile.inc
