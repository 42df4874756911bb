#!/usr/bin/env bash
# System packages the test suite uses as independent references or real parts:
# PrusaSlicer (slicing reference and FDM engine), CuraEngine with the cura
# package's machine definitions (FDM engine), Chromium (browser tests), Redis
# (queue at scale), hp2xx (HPGL renderer), PostgreSQL (database at scale), npm (three.js
# for the 3D view, `make vendor`), and what the real Klipper + Moonraker stack of the
# connector tests builds with (gcc, make, C headers, python3-venv, libsodium for Moonraker;
# ../shared/moonraker-stack). Installed when
# we are root with apt; otherwise the tests that need a missing one are skipped
# with the reason.
set -euo pipefail
PACKAGES=(prusa-slicer cura-engine cura chromium redis-server hp2xx postgresql gcc make libc6-dev python3-venv libsodium23)
missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# npm may come from Debian or with Node.js from elsewhere: any npm on the PATH will do.
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "Installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "Not installed (tests that need them will be skipped): ${missing[*]}" >&2
  echo "Install with: sudo apt-get install ${missing[*]}" >&2
fi
