#!/bin/sh
# Install what interop/run.py needs on a fresh Debian (12+) machine. Run as root.
# Idempotent: does nothing (and says one line) when everything is already there.
#
#   interop/install.sh            # Debian packages + interop/.venv with aiortc and aiohttp
#   VENV=/path interop/install.sh # put the venv elsewhere (then: run.py --python /path/bin/python)
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
VENV=${VENV:-$HERE/.venv}
AIORTC_VERSION=${AIORTC_VERSION:-1.16.0}

need=""
for pkg in chromium chromium-driver firefox-esr tshark coturn python3-venv iproute2 util-linux curl jq; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        need="$need $pkg"
    fi
done

if [ -n "$need" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "install.sh: need root to install:$need" >&2
        exit 1
    fi
    echo "install.sh: apt-get install$need"
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture; answer no without a prompt
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $need >/dev/null
fi

if ! "$VENV/bin/python" -c 'import aiortc, aiohttp' >/dev/null 2>&1; then
    echo "install.sh: creating $VENV with aiortc $AIORTC_VERSION and aiohttp"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "aiortc==$AIORTC_VERSION" aiohttp
fi

echo "install.sh: interop dependencies present (venv: $VENV)"
