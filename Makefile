# Ethos Resource Watchdog - build, test and benchmark entry points.
#
#   make            build the C test programs (and benchmarks)
#   make run        run the watchdog with default settings (as root)
#   make test       everything: unit + host + both VMs (same as ./test.sh)
#   make test-unit  pure-Python tests, no root needed
#   make lint       flake8 over the Python (config: .flake8)
#   make test-host  BPF tests on the running kernel (root)
#   make vm-test    the VM suite in every kernel (see vm/Makefile.inc)
#   make bench      overhead / start-up / scaling benchmarks (root)
#   make soak       64 aggressive + 64 normal readers: SOAK_S s on the host
#                   (throttle, default 600), SOAK_VM_S s in the debian VM (deny, 120)
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

lint:
	$(PY) -m flake8

test-host: progs
	$(PYTEST) -q tests/host

bench: progs
	$(MAKE) -C bench run

# The soak (tests/soak): host first, then the debian guest; both always run.
SOAK_S ?= 600
SOAK_VM_S ?= 120
soak: progs
	@fail=0; \
	SOAK_S=$(SOAK_S) $(PYTEST) -q -s tests/soak || fail=1; \
	$(VM_RUN) --kernel debian --timeout 1800 --env SOAK_S=$(SOAK_VM_S) -- \
	    $(VM_PYTHON) -m pytest -q -s tests/soak || fail=1; \
	exit $$fail

clean:
	$(MAKE) -C tests/progs clean
	-$(MAKE) -C bench clean

.PHONY: all progs run test test-unit lint test-host bench soak clean

-include vm/Makefile.inc
