#!/usr/bin/env bash
# Idempotent setup: Debian packages, virtualenv, Python packages, pinned tools.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(python3-venv ca-certificates binutils curl wrk nghttp2-client
  runc containernetworking-plugins iptables iproute2 util-linux busybox-static
  docker-registry skopeo apache2-utils conmon)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  else
    echo "setup: missing Debian packages (run as root to install): ${missing[*]}" >&2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --upgrade pip >/dev/null
.venv/bin/pip install -q -e '.[test]'

# kubectl 1.20 from Debian's kubernetes-client, unpacked into .tools (never installed:
# installing it would replace the kubectl on PATH).
if [ ! -x .tools/kubectl-1.20/usr/bin/kubectl ]; then
  mkdir -p .tools/debs
  [ "$(id -u)" = 0 ] && { apt-cache policy kubernetes-client | grep -q Candidate: || apt-get update -qq; }
  (cd .tools/debs && apt-get download kubernetes-client >/dev/null 2>&1) || { apt-get update -qq && (cd .tools/debs && apt-get download kubernetes-client); }
  dpkg -x .tools/debs/kubernetes-client_*.deb .tools/kubectl-1.20
fi
echo "setup: done"
