# Ethos Resource Watchdog - build, test and benchmark entry points.
#
#   make            build the C test programs (and benchmarks)
#   make run        run the watchdog with default settings (as root)
#   make test       everything: unit + host + both VMs (same as ./test.sh)
#   make test-unit  pure-Python tests, no root needed
#   make test-host  BPF tests on the running kernel (root)
#   make vm-test    the VM suite in every kernel (see vm/Makefile.inc)
#   make bench      overhead / start-up / scaling benchmarks (root)
PY ?= /usr/bin/python3
PYTEST ?= $(PY) -m pytest

all: progs

progs:
	$(MAKE) -C tests/progs

run:
	$(PY) ./watchdog.py

test:
	./test.sh

test-unit: progs
	$(PYTEST) -q tests/unit

test-host: progs
	$(PYTEST) -q tests/host

bench: progs
	$(MAKE) -C bench run

clean:
	$(MAKE) -C tests/progs clean
	-$(MAKE) -C bench clean

.PHONY: all progs run test test-unit test-host bench clean

-include vm/Makefile.inc
