#!/bin/sh
# Install the Debian packages this project needs, and only those missing.
# Run by `make deps`, which `make check`, `make testnet` and `make bench` call first.
# Uses apt-get as root, or through sudo otherwise.  Prints nothing when all are present.
set -eu

PKGS="build-essential pkg-config clang libclang-rt-14-dev
libsodium-dev libev-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler
libcbor-dev libinih-dev liblmdb-dev lmdb-utils libmicrohttpd-dev libseccomp-dev
python3 python3-dissononce python3-cbor2 python3-cryptography iproute2 procps psmisc curl prometheus
libpcap-dev tcpdump clang-format gnuplot-nox
debootstrap systemd-container"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing missing Debian packages:$missing"
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
    echo "deps: (using sudo; you may be asked for your password)"
else
    echo "deps: error: not root and sudo is not installed; install these as root:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "deps: apt-get update"
$SUDO apt-get update -qq
echo "deps: apt-get install$missing"
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
echo "deps: done"
