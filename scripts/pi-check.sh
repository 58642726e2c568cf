#!/usr/bin/env bash
# The Pi install, tried as a new user would on a Raspberry Pi: in an emulated Debian bookworm
# arm64 root (debootstrap + qemu-user-static), `scripts/install-pi.sh` from a copy of this
# source, then inside the root `station config check`, `station bench footprint`, a short
# headless `station demo` whose WAV must hold sound, and the installed engine playing on a
# JACK server (the dummy driver). Prints how long each step took, and a JSON line at the end.
#
# Slow (52 minutes on two cores, most of it apt and pyo's compiler under emulation), so it
# is not part of `make test`: run it with `make pi-check` (as root: debootstrap, chroot,
# mounts). docs/running-as-a-service.md has each step's time.
#
#   sudo scripts/pi-check.sh            # reuses the root in /var/tmp/sensory-station-pi-root
#                                       # if it is complete ($PI_CHECK_ROOT names another)
#   sudo scripts/pi-check.sh --fresh    # starts from a new root
#
# The Raspberry Pi OS archive cannot be reached from here, so the root is plain Debian
# arm64, as on a Pi running plain Debian: the install must work there too.
set -euo pipefail

source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Outside the checkout: with the root (and its mounted /proc) inside it, the editable install
# of the source copied into the root walked the mounts and never ended.
root="${PI_CHECK_ROOT:-/var/tmp/sensory-station-pi-root}"
fresh=false
[[ ${1:-} == --fresh ]] && fresh=true
[[ $# -gt 0 && ${1:-} != --fresh ]] && { echo "usage: $0 [--fresh]" >&2; exit 2; }

die() {
    printf 'pi-check: %s\n' "$*" >&2
    exit 1
}

[[ $EUID -eq 0 ]] || die "must run as root (debootstrap, chroot and mounts): sudo $0"

declare -a step_names=() step_seconds=()
step() {
    local name=$1
    shift
    local started=$SECONDS
    printf '\n=== %s\n' "$name"
    "$@"
    step_names+=("$name")
    step_seconds+=($((SECONDS - started)))
    printf '=== %s: %d s\n' "$name" "$((SECONDS - started))"
}

in_root() {
    chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        LANG=C.UTF-8 "$@"
}

host_tools() {
    local missing=()
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    [[ -e /usr/libexec/qemu-binfmt/aarch64-binfmt-P || -x /usr/bin/qemu-aarch64-static ]] ||
        missing+=(qemu-user-static)
    command -v update-binfmts >/dev/null || missing+=(binfmt-support)
    if ((${#missing[@]} > 0)); then
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
    fi
    if [[ ! -e /proc/sys/fs/binfmt_misc/register ]]; then
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc ||
            die "cannot mount binfmt_misc, so arm64 programs cannot run here"
    fi
    [[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]] || update-binfmts --enable qemu-aarch64
    [[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]] ||
        die "qemu-aarch64 is not registered with binfmt_misc; arm64 programs cannot run here"
}

# The Debian mirror this machine's own apt uses (debootstrap's default otherwise).
host_mirror() {
    sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1
}

make_root() {
    if [[ $fresh == true ]]; then
        unmount_root
        rm -rf "$root"
    fi
    if [[ -f $root/.pi-check-complete ]]; then
        echo "reusing $root (pass --fresh for a new one)"
        return
    fi
    rm -rf "$root"
    mkdir -p "$root"
    local mirror
    mirror="$(host_mirror)"
    # ca-certificates: pip reaches the Python package index over HTTPS; sudo: install-pi's
    # next steps tell the user to use it.
    debootstrap --arch=arm64 --include=ca-certificates,sudo,procps bookworm "$root" ${mirror:+"$mirror"}
    touch "$root/.pi-check-complete"
}

mount_root() {
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    # The root trusts what this machine trusts: where HTTPS goes through a proxy that signs
    # with a local authority, pip inside the root needs that authority too.
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
        mkdir -p "$root/usr/local/share/ca-certificates"
        cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
        in_root update-ca-certificates >/dev/null
    fi
    mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
    mountpoint -q "$root/sys" || mount -t sysfs sys "$root/sys"
    mountpoint -q "$root/dev" || mount --rbind /dev "$root/dev"
    mkdir -p "$root/dev/shm"
}

unmount_root() {
    local point
    for point in dev sys proc; do
        if mountpoint -q "$root/$point" 2>/dev/null; then
            umount -R "$root/$point" 2>/dev/null || umount -lR "$root/$point"
        fi
    done
}

copy_source() {
    rm -rf "$root/home/pi/sensory-station"
    mkdir -p "$root/home/pi/sensory-station"
    # What is committed, plus uncommitted changes to tracked files: the tree as it stands.
    (cd "$source_dir" && git ls-files -z | tar --null -T - -cf -) |
        tar -xf - -C "$root/home/pi/sensory-station"
}

install_pi() {
    in_root bash /home/pi/sensory-station/scripts/install-pi.sh
}

config_check() {
    in_root /opt/sensory-station/venv/bin/station config check /etc/sensory-station/station.toml
}

footprint() {
    in_root runuser -u sensory-station -- /opt/sensory-station/venv/bin/station bench footprint --runs 1
}

demo() {
    local wav=/var/lib/sensory-station/pi-check-demo.wav
    rm -f "$root$wav"
    # The report too goes where the station's user may write (the root's cwd is /).
    in_root runuser -u sensory-station -- /opt/sensory-station/venv/bin/station demo \
        --config /etc/sensory-station/station.toml --seconds 5 --record "$wav" \
        --report /var/lib/sensory-station/pi-check-report.pdf </dev/null
    wav_has_sound "$wav"
}

# Sound, not the noise floor: the peak of the recording's integer samples over 1 % of full scale.
wav_has_sound() {
    in_root /opt/sensory-station/venv/bin/python - "$1" <<'EOF'
import array, sys, wave
with wave.open(sys.argv[1]) as recording:
    frames = recording.readframes(recording.getnframes())
    width = recording.getsampwidth()
# The top two bytes of each little-endian sample (the station records 24-bit) as 16-bit.
top = bytearray(len(frames) // width * 2)
top[0::2], top[1::2] = frames[width - 2::width], frames[width - 1::width]
samples = array.array("h", top)
peak = max((abs(s) for s in samples), default=0) / 32768.0
print(f"{sys.argv[1]}: {len(samples)} samples, peak {peak:.3f}")
sys.exit(0 if peak > 0.01 else f"{sys.argv[1]} holds no sound")
EOF
}

plays_on_jack() {
    in_root /opt/sensory-station/venv/bin/python -c \
        'import sys, pyo; print("pyo", pyo.PYO_VERSION, "JACK:", bool(pyo.withJack())); sys.exit(0 if pyo.withJack() else "pyo has no JACK support")'
    # jackd's dummy driver keeps real time with no sound card; the demo's recording is what
    # pyo rendered in JACK's process callback, so sound in it means pyo played on JACK.
    local wav=/var/lib/sensory-station/pi-check-jack.wav
    rm -f "$root$wav"
    in_root runuser -u sensory-station -- bash -c '
        jackd --no-realtime -d dummy -r 48000 -p 256 >/tmp/pi-check-jackd.log 2>&1 &
        jackd_pid=$!
        trap "kill $jackd_pid" EXIT
        for _ in $(seq 150); do
            /opt/sensory-station/venv/bin/python -c "import sys; from station.sound.server import jack_server_running as up; sys.exit(0 if up() else 1)" && break
            sleep 0.2
        done
        /opt/sensory-station/venv/bin/station demo --config /etc/sensory-station/station.toml \
            --set audio.backend=jack --seconds 4 --record "$1" \
            --report /var/lib/sensory-station/pi-check-jack-report.pdf </dev/null' jack-demo "$wav"
    wav_has_sound "$wav"
}

trap unmount_root EXIT
step "host tools (debootstrap, qemu-user-static, binfmt)" host_tools
step "debootstrap bookworm arm64" make_root
mount_root
step "copy the source into the root" copy_source
step "scripts/install-pi.sh" install_pi
step "station config check" config_check
step "station bench footprint" footprint
step "station demo (5 s, headless, WAV)" demo
step "the installed engine plays on JACK" plays_on_jack

printf '\n{"pi_check": {'
for i in "${!step_names[@]}"; do
    ((i > 0)) && printf ', '
    printf '"%s": %d' "${step_names[$i]}" "${step_seconds[$i]}"
done
printf '}, "unit": "seconds", "machine": "%s, %s cores, arm64 under qemu-user"}\n' \
    "$(uname -m)" "$(nproc)"
