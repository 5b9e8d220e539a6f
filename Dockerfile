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
#
# Two images: the default (last) target is the whole environment above
# (BCC, clang, the tests; about 1 GB).  `--target ethoswd` is ethoswd alone
# on a Debian 12 base with only the libraries it links (libbpf1, ...):
# what the Kubernetes DaemonSet runs (deploy/kubernetes/), pulled on every
# node, so without the compiler, BCC, Python and the tests it never uses.
FROM debian:12 AS full
WORKDIR /opt/ethos-watchdog
# Packages first, from install.sh alone: a code change rebuilds only the
# layers below this one.  No headers link here: the kernel building the image
# is not the one running it; container/entrypoint.sh links at run time.  No
# Node.js either (--no-kube): the manifest checks run on the host.
COPY install.sh ./
RUN ./install.sh --tests --no-headers --no-kube && rm -rf /var/lib/apt/lists/*
COPY . .
RUN ./install.sh --tests --no-headers --no-kube
ENTRYPOINT ["/opt/ethos-watchdog/container/entrypoint.sh"]

# ---- ethoswd alone: built in the image above, copied onto a bare base ------
FROM full AS ethoswd-build
# The packages that own the libraries ethoswd links, for the stage below.
# (By directory and name: dpkg knows /lib/x86_64-linux-gnu/libc.so.6 under
# either /lib or /usr/lib, whichever the package shipped.)
RUN make ethoswd && \
    ldd build/ethoswd | awk '$3 ~ /^\// { print $3 }' | while read -r lib; do \
        dpkg -S "*/$(basename "$(dirname "$lib")")/$(basename "$lib")"; \
    done | cut -d: -f1 | sort -u >build/ethoswd.deps && cat build/ethoswd.deps

FROM debian:12 AS ethoswd
COPY --from=ethoswd-build /opt/ethos-watchdog/build/ethoswd.deps /tmp/ethoswd.deps
RUN apt-get update -q && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        $(cat /tmp/ethoswd.deps) && \
    rm -rf /var/lib/apt/lists/* /tmp/ethoswd.deps
COPY --from=ethoswd-build /opt/ethos-watchdog/build/ethoswd /usr/local/sbin/ethoswd
COPY packaging/ethoswd.default /etc/ethoswd/policy.toml
ENTRYPOINT ["/usr/local/sbin/ethoswd"]
CMD ["--config", "/etc/ethoswd/policy.toml"]

# The default target: the whole environment (tests/container/run.sh).
FROM full
