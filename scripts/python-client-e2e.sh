#!/usr/bin/env bash
# Runs the official Kubernetes Python client's end-to-end suite
# (kubernetes-client/python, directory kubernetes/e2e_test/) against a fresh `kubepy server`.
#
# The suite is NOT part of this repository and must never be committed to it: fetch a
# checkout of github.com/kubernetes-client/python yourself (a work tree, or a bare/mirror git
# directory) and pass its path. This script downloads nothing.
#
# Usage:
#   scripts/python-client-e2e.sh [CHECKOUT] [-- extra pytest args...]
#   PYCLIENT_CHECKOUT=/path/to/python scripts/python-client-e2e.sh
#
# What it does:
#   1. copies kubernetes/e2e_test/ out of CHECKOUT into a temp dir (cp from a work tree,
#      `git archive` from a git directory);
#   2. as root (and unless E2E_SKIP_KUBELET=1 or E2E_AGENT=0): builds the suite's images here
#      (tests/images.py: busybox, python and nginx stand-ins), serves them as Docker Hub would
#      and starts `kubepy server` WITH its node agent, isolated (see "Images" below);
#      otherwise starts `kubepy server --disable-agent`. Either on a free 127.0.0.1 port with
#      its data dir in the temp dir;
#   3. runs the whole suite with KUBECONFIG pointing at the server's admin.kubeconfig, using
#      the `kubernetes` package installed in our venv (a generated conftest.py appends the
#      suite's directory to kubernetes.__path__, so `kubernetes.e2e_test` imports resolve);
#   4. stops the server (by its PID), `kubepy killall` removes the pods' containers, mounts,
#      netns, bridge and cgroups, and prints pytest's summary.
#
# Images. The suite's pods name `busybox`, `python` and `nginx` (tag latest, so
# imagePullPolicy Always: the kubelet must reach the registry, a present image is not enough —
# Kubernetes reports ErrImagePull when the pull fails). kubepy has no registry-mirror setting,
# so the agent is made to find docker.io here: Debian's docker-registry listens with TLS on
# port 443 of a random loopback address, skopeo pushes the stand-ins to it as
# library/{busybox,python,nginx}:latest, and `kubepy server` runs in a private mount
# namespace (unshare --propagation slave: no mount leaks out to the machine) where /etc/hosts
# maps registry-1.docker.io to that address and SSL_CERT_FILE adds the registry's CA. The
# kubelet's real pull path (manifest, blobs, digests, Always) is what runs; nothing outside
# that namespace sees the override. Pods get their own /etc/hosts.
#
# Environment:
#   PYCLIENT_CHECKOUT   checkout path when no argument is given
#   PYTHON              interpreter with pytest + kubernetes (default: <repo>/.venv/bin/python)
#   KUBEPY              the kubepy command (default: <repo>/.venv/bin/kubepy)
#   E2E_TEST_TIMEOUT    per-test timeout in seconds when pytest-timeout is installed (default
#                       180; tests that wait for a Running pod loop forever without a kubelet)
#   E2E_SKIP_KUBELET=1  no agent, and deselect the tests that need a kubelet (running pods,
#                       exec, port-forward, metrics-server)
#   E2E_AGENT=0         no agent even as root (the kubelet tests then fail or hang)
#   E2E_KEEP=1          keep the temp dir (server log, data dir, pytest log) afterwards
#
# Exit status: pytest's.
set -uo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
checkout="${PYCLIENT_CHECKOUT:-}"
if [[ $# -gt 0 && "$1" != "--" ]]; then
    checkout="$1"
    shift
fi
[[ "${1:-}" == "--" ]] && shift
if [[ -z "$checkout" ]]; then
    echo "usage: $0 CHECKOUT [-- pytest args]   (or set PYCLIENT_CHECKOUT)" >&2
    echo "CHECKOUT is a kubernetes-client/python work tree or git directory, fetched" >&2
    echo "separately; it is never committed to this repository." >&2
    exit 2
fi
python="${PYTHON:-$repo/.venv/bin/python}"
kubepy="${KUBEPY:-$repo/.venv/bin/kubepy}"
timeout_s="${E2E_TEST_TIMEOUT:-180}"

agent=0
if [[ "$(id -u)" == 0 && "${E2E_SKIP_KUBELET:-0}" != 1 && "${E2E_AGENT:-1}" != 0 ]]; then
    agent=1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/kubepy-pyclient-e2e.XXXXXX")"
tag="$$"
bridge="kpyc${tag}"; bridge="${bridge:0:15}"
netns_dir="$work/netns"
cgroup_parent="kubepy-pyclient-e2e-$tag"
isolation=(--bridge "$bridge" --netns-dir "$netns_dir" --cgroup-parent "$cgroup_parent")
suite_pid=""
server_pid=""
registry_pid=""
holder_pid=""
stop_pid() {   # stop_pid PID: SIGTERM, then SIGKILL after 5 s
    local pid="$1"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
}
in_ns() {      # run a command in the server's mount namespace (or here without one)
    if [[ -n "$holder_pid" ]]; then
        nsenter --target "$holder_pid" --mount -- "$@"
    else
        "$@"
    fi
}
cleanup() {
    stop_pid "$suite_pid"
    stop_pid "$server_pid"
    if [[ "$agent" == 1 && -d "$work/data" ]]; then
        in_ns "$kubepy" killall --data-dir "$work/data" "${isolation[@]}" \
            >"$work/killall.log" 2>&1 \
            || { echo "kubepy killall failed:" >&2; cat "$work/killall.log" >&2; }
    fi
    stop_pid "$holder_pid"
    stop_pid "$registry_pid"
    if [[ "${E2E_KEEP:-0}" == 1 ]]; then
        echo "kept $work (server.log, pytest.log, data/)"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. The suite, out of the checkout.
mkdir -p "$work/suite"
if [[ -d "$checkout/kubernetes/e2e_test" ]]; then
    mkdir -p "$work/suite/kubernetes"
    cp -r "$checkout/kubernetes/e2e_test" "$work/suite/kubernetes/"
elif git --git-dir "$checkout" rev-parse --verify -q HEAD >/dev/null 2>&1; then
    # (stderr kept aside: partial mirrors complain about unrelated missing blobs)
    git --git-dir "$checkout" archive HEAD kubernetes/e2e_test 2>"$work/git-archive.log" \
        | tar -x -C "$work/suite" \
        || { echo "git archive of kubernetes/e2e_test failed in $checkout:" >&2
             cat "$work/git-archive.log" >&2; exit 2; }
    echo "suite from $checkout at $(git --git-dir "$checkout" rev-parse --short HEAD)"
else
    echo "$checkout has no kubernetes/e2e_test and is not a git directory" >&2
    exit 2
fi
cat > "$work/suite/conftest.py" <<'EOF'
# Generated by scripts/python-client-e2e.sh: serve `kubernetes.e2e_test` from this directory
# while every other `kubernetes.*` module comes from the installed client.
import os

import kubernetes

kubernetes.__path__.append(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                        "kubernetes"))
EOF
printf '[pytest]\n' > "$work/suite/pytest.ini"

free_port() {
    "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# 2a. With the agent: the images, a registry answering for docker.io, a mount namespace.
server_args=(--disable-agent)
server_env=()
if [[ "$agent" == 1 ]]; then
    for tool in docker-registry skopeo openssl unshare nsenter runc conmon; do
        command -v "$tool" >/dev/null || { echo "missing $tool (scripts/setup.sh installs it)" >&2; exit 2; }
    done
    "$python" "$repo/tests/images.py" "$work/layout" busybox python nginx >/dev/null \
        || { echo "building the images failed" >&2; exit 2; }
    reg_ip="127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))"
    tls="$work/registry/tls"
    mkdir -p "$tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=kubepy e2e registry CA" \
        -keyout "$tls/ca.key" -out "$tls/ca.crt" >/dev/null 2>&1 &&
    openssl req -newkey rsa:2048 -nodes -subj "/CN=registry-1.docker.io" \
        -keyout "$tls/server.key" -out "$tls/server.csr" >/dev/null 2>&1 &&
    printf 'subjectAltName=DNS:registry-1.docker.io,IP:%s\n' "$reg_ip" >"$tls/ext.cnf" &&
    openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" \
        -CAcreateserial -days 2 -extfile "$tls/ext.cnf" -out "$tls/server.crt" >/dev/null 2>&1 \
        || { echo "making the registry's certificate failed" >&2; exit 2; }
    cat >"$work/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $work/registry/data
http:
  addr: $reg_ip:443
  tls:
    certificate: $tls/server.crt
    key: $tls/server.key
EOF
    docker-registry serve "$work/registry/config.yml" >"$work/registry.log" 2>&1 &
    registry_pid=$!
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/$reg_ip/443") 2>/dev/null && break
        kill -0 "$registry_pid" 2>/dev/null || break
        sleep 0.1
    done
    for image in busybox python nginx; do
        skopeo copy --quiet --dest-tls-verify=false \
            "oci:$work/layout:$image" "docker://$reg_ip:443/library/$image:latest" \
            >>"$work/registry.log" 2>&1 \
            || { echo "pushing $image failed:" >&2; cat "$work/registry.log" >&2; exit 2; }
    done
    { cat /etc/hosts; echo "$reg_ip registry-1.docker.io"; } >"$work/hosts"
    { cat /etc/ssl/certs/ca-certificates.crt 2>/dev/null; cat "$tls/ca.crt"; } >"$work/ca-bundle.crt"
    unshare --mount --propagation slave sleep infinity &
    holder_pid=$!
    for _ in $(seq 50); do
        [[ "$(readlink "/proc/$holder_pid/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ]] && break
        sleep 0.1
    done
    in_ns mount --bind "$work/hosts" /etc/hosts \
        || { echo "could not bind /etc/hosts in the server's mount namespace" >&2; exit 2; }
    cidr="10.$((RANDOM % 30 + 200)).0.0/16"
    server_args=(--cluster-cidr "$cidr" --kubelet-port 0 --cluster-dns-port "$(free_port)"
                 --disable-kube-proxy --disable servicelb "${isolation[@]}")
    server_env=(SSL_CERT_FILE="$work/ca-bundle.crt")
    echo "registry for docker.io at $reg_ip:443; agent on bridge $bridge, pods in $cidr"
fi

# 2b. A server on a free port.
port="$(free_port)"
ns_prefix=()
[[ -n "$holder_pid" ]] && ns_prefix=(nsenter --target "$holder_pid" --mount --)
# (nsenter execs the server when it enters only a mount namespace: $! is the server)
"${ns_prefix[@]}" env "${server_env[@]}" "$kubepy" server --data-dir "$work/data" --https-listen-port "$port" \
    --bind-address 127.0.0.1 "${server_args[@]}" >"$work/server.log" 2>&1 &
server_pid=$!
kubeconfig="$work/data/admin.kubeconfig"
for _ in $(seq 300); do
    grep -q "kubeconfig written" "$work/server.log" 2>/dev/null && [[ -s "$kubeconfig" ]] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "kubepy server exited early:" >&2
        cat "$work/server.log" >&2
        exit 2
    fi
    sleep 0.2
done
[[ -s "$kubeconfig" ]] || { echo "kubepy server not ready after 60s" >&2; cat "$work/server.log" >&2; exit 2; }
echo "kubepy server (pid $server_pid) at https://127.0.0.1:$port, KUBECONFIG=$kubeconfig"
if [[ "$agent" == 1 ]]; then   # the suite's pods need a Ready node
    ready=""
    for _ in $(seq 180); do
        if ! kill -0 "$server_pid" 2>/dev/null; then
            echo "kubepy server exited:" >&2; tail -n 40 "$work/server.log" >&2; exit 2
        fi
        ready="$(kubectl --kubeconfig "$kubeconfig" get nodes -o \
            jsonpath='{.items[*].status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)"
        [[ "$ready" == True ]] && break
        sleep 0.5
    done
    [[ "$ready" == True ]] || { echo "no Ready node after 90s:" >&2; tail -n 40 "$work/server.log" >&2; exit 2; }
fi

# 3. The suite. It must run from the directory holding kubernetes/e2e_test: some tests open
# fixtures by the relative path kubernetes/e2e_test/test_yaml/...
args=(-p no:cacheprovider -q -rfEs -c "$work/suite/pytest.ini" --rootdir "$work/suite")
if "$python" -c 'import pytest_timeout' 2>/dev/null; then
    args+=(--timeout "$timeout_s")
fi
if [[ "${E2E_SKIP_KUBELET:-0}" == 1 ]]; then
    for t in test_client.py::TestClient::test_pod_apis \
             test_client.py::TestClient::test_exit_code \
             test_client.py::TestClient::test_pod_exec_close_channel \
             test_client.py::TestClient::test_portforward_http \
             test_client.py::TestClient::test_portforward_raw \
             test_utils.py::TestUtils::test_metrics_utilities_integration; do
        args+=(--deselect "kubernetes/e2e_test/$t")
    done
fi
cd "$work/suite"
# (in the background: a SIGTERM to this script is handled at once, not after the suite)
KUBECONFIG="$kubeconfig" "$python" -m pytest "${args[@]}" "$@" kubernetes/e2e_test \
    >"$work/pytest.log" 2>&1 &
suite_pid=$!
wait "$suite_pid"
rc=$?
suite_pid=""
if [[ "$rc" != 0 && "$agent" == 1 ]]; then   # the node's view, for the failures
    { kubectl --kubeconfig "$kubeconfig" get pods -A -o wide
      kubectl --kubeconfig "$kubeconfig" get events -A; } >"$work/cluster.log" 2>&1
fi

# 4. Summary: pytest's short summary section and its final count line.
sed -n '/short test summary info/,$p' "$work/pytest.log"
grep -q "short test summary info" "$work/pytest.log" || tail -n 5 "$work/pytest.log"
exit "$rc"
