# Ethos Resource Watchdog in a container: the same environment install.sh
# makes on a Debian 12 machine.  eBPF runs in the HOST kernel, so run it
# privileged, in the host PID namespace, with the host's kernel interfaces:
#
#   docker build -t ethos-watchdog .
#   docker run --rm -it --privileged --pid=host \
#     -v /sys/kernel:/sys/kernel -v /sys/fs/bpf:/sys/fs/bpf \
#     -v /lib/modules:/lib/modules:ro -v /usr/src:/usr/src:ro ethos-watchdog [OPTIONS]
#
# Tests: docker run ... --entrypoint ./test.sh ethos-watchdog
FROM debian:12
WORKDIR /opt/ethos-watchdog
COPY . .
RUN ./install.sh --tests && rm -rf /var/lib/apt/lists/*
ENTRYPOINT ["/usr/bin/python3", "/opt/ethos-watchdog/watchdog.py"]
