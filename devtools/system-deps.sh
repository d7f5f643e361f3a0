#!/usr/bin/env bash
# Installs the Debian packages the demo and tests use (registry, image tools, Go, capture
# tools, PostgreSQL). As root it installs what is missing; otherwise it lists what is missing.
set -euo pipefail
pkgs=(docker-registry skopeo umoci mmdebstrap golang-go apache2-utils openssl tshark tcpdump
      ca-certificates rpm db5.3-util chromium postgresql openjdk-17-jre-headless procps podman runc containerd containernetworking-plugins)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: missing Debian packages (install as root): ${missing[*]}" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
