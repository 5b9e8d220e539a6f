# Ethos Resource Watchdog in a container: the same environment install.sh
# makes on a Debian 12 machine.  eBPF runs in the HOST kernel, so run it
# privileged, in the host PID namespace, with the host's kernel interfaces:
#
#   docker build -t ethos-watchdog .
#   docker run --rm -it --privileged --pid=host \
#     -v /sys/kernel:/sys/kernel -v /sys/fs/bpf:/sys/fs/bpf \
#     -v /lib/modules:/lib/modules:ro -v /usr/src:/usr/src:ro ethos-watchdog [OPTIONS]
#
# podman works the same way (tests/container/run.sh builds and runs this file
# with podman and runc; the README's Docker section has the tested commands).
FROM debian:12
WORKDIR /opt/ethos-watchdog
# Packages first, from install.sh alone: a code change rebuilds only the
# layers below this one.  No headers link here: the kernel building the image
# is not the one running it; container/entrypoint.sh links at run time.
COPY install.sh ./
RUN ./install.sh --tests --no-headers && rm -rf /var/lib/apt/lists/*
COPY . .
RUN ./install.sh --tests --no-headers
ENTRYPOINT ["/opt/ethos-watchdog/container/entrypoint.sh"]
