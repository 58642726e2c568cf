#!/usr/bin/env bash
# Makes sure the Debian packages the tests use are installed: installs the missing ones when
# run as root, otherwise names them and exits 1.
#   mosquitto, mosquitto-clients  the real MQTT broker the test fixtures start
#   jackd2                        JACK's dummy driver, for real-time audio runs without a sound card
#   systemd                       systemd-analyze verify for the unit files
#   postgresql                    the dashboard's store is tested on a real PostgreSQL server
#                                 (the fixture starts its own cluster; Debian's stays unused)
#   fonts-dejavu-core             the font session reports are set in (PDF)
#   poppler-utils                 pdftoppm, to render the report PDFs in the tests
#   chromium                      the dashboard's browser tests (Playwright drives
#                                 /usr/bin/chromium; Playwright's own browser download is never used)
#   puredata-core, puredata-utils,  the peers `station bench latency --peers` measures beside the
#   supercollider-server            station (Pd with pdsend; SuperCollider's server alone)
#   npm (unless npm is already there)  scripts/fetch-npm-assets.sh: axe-core for the browser tests
set -euo pipefail

packages=(mosquitto mosquitto-clients jackd2 systemd postgresql fonts-dejavu-core poppler-utils chromium
          puredata-core puredata-utils supercollider-server)
missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done
# Node.js from another source (its own nodejs package) brings npm along.
if ! command -v npm >/dev/null; then
    missing+=(npm)
fi

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "The tests need these Debian packages: ${missing[*]}" >&2
    echo "Install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi

echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
