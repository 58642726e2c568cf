#!/usr/bin/env bash
# Fetches the pinned npm packages the project uses into build/npm/NAME-VERSION/ (git-ignored),
# with `npm pack` from the registry npm is set up for, and checks each tarball against its
# pinned integrity before unpacking it. Nothing from npm is ever copied into the repository,
# and nothing here runs at the station's or dashboard's run time (a Pi needs no Node.js).
#
#   axe-core  the accessibility checker the browser tests inject into every page
#   uplot     the charts of the dashboard's client page (served by the dashboard from DEST:
#             build/npm in a source checkout, `[dashboard] assets_dir` when installed)
#
#   scripts/fetch-npm-assets.sh [DEST [NAME...]]     (default: build/npm, every package)
#   scripts/fetch-npm-assets.sh --check DEST NAME... exit 0 if all are there, 1 if not
#                                                    (without npm; nothing is fetched)
set -euo pipefail

# name version integrity (npm's dist.integrity: sha512 of the tarball, base64)
readonly PINNED=(
    "axe-core 4.14.1 sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
    "uplot 1.6.32 sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw=="
)

source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
check_only=false
if [[ ${1:-} == --check ]]; then
    check_only=true
    shift
fi
dest="${1:-$source_dir/build/npm}"
(($# > 0)) && shift
wanted=("$@")

is_wanted() {
    local name
    ((${#wanted[@]} == 0)) && return 0
    for name in "${wanted[@]}"; do
        [[ $name == "$1" ]] && return 0
    done
    return 1
}

for name in "${wanted[@]}"; do
    if ! printf '%s\n' "${PINNED[@]}" | grep -q "^$name "; then
        echo "fetch-npm-assets: no pinned package '$name'; pinned: $(printf '%s\n' "${PINNED[@]}" | cut -d' ' -f1 | tr '\n' ' ')" >&2
        exit 2
    fi
done

is_fetched() {
    [[ -f $1/.integrity ]] && [[ $(<"$1/.integrity") == "$2" ]]
}

if [[ $check_only == true ]]; then
    for pinned in "${PINNED[@]}"; do
        read -r name version integrity <<<"$pinned"
        is_wanted "$name" || continue
        is_fetched "$dest/$name-$version" "$integrity" || exit 1
    done
    exit 0
fi

if ! command -v npm >/dev/null; then
    echo "fetch-npm-assets: npm is missing; install it with: sudo apt-get install npm" >&2
    exit 1
fi

for pinned in "${PINNED[@]}"; do
    read -r name version integrity <<<"$pinned"
    is_wanted "$name" || continue
    target="$dest/$name-$version"
    if is_fetched "$target" "$integrity"; then
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
