#!/usr/bin/env bash
# Fetches the pinned npm packages the project uses into build/npm/NAME-VERSION/ (git-ignored),
# with `npm pack` from the registry npm is set up for, and checks each tarball against its
# pinned integrity before unpacking it. Nothing from npm is ever copied into the repository,
# and nothing here runs at the station's or dashboard's run time (a Pi needs no Node.js).
#
#   axe-core  the accessibility checker the browser tests inject into every page
#
#   scripts/fetch-npm-assets.sh [DEST]     (default: build/npm)
set -euo pipefail

# name version integrity (npm's dist.integrity: sha512 of the tarball, base64)
readonly PINNED=(
    "axe-core 4.14.1 sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
)

source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${1:-$source_dir/build/npm}"

if ! command -v npm >/dev/null; then
    echo "fetch-npm-assets: npm is missing; install it with: sudo apt-get install npm" >&2
    exit 1
fi

for pinned in "${PINNED[@]}"; do
    read -r name version integrity <<<"$pinned"
    target="$dest/$name-$version"
    if [[ -f $target/.integrity ]] && [[ $(<"$target/.integrity") == "$integrity" ]]; then
        continue
    fi
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    (cd "$work" && npm pack --silent "$name@$version" >/dev/null)
    tarball=("$work"/*.tgz)
    actual="sha512-$(python3 -c 'import base64, hashlib, sys; print(base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "${tarball[0]}")"
    if [[ $actual != "$integrity" ]]; then
        echo "fetch-npm-assets: $name@$version has integrity $actual, pinned $integrity; not used" >&2
        exit 1
    fi
    rm -rf "$target"
    mkdir -p "$target"
    tar -xzf "${tarball[0]}" -C "$target" --strip-components=1
    printf '%s\n' "$integrity" >"$target/.integrity"
    rm -rf "$work"
    trap - EXIT
    echo "fetched $name@$version into $target"
done
