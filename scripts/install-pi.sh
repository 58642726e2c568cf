#!/usr/bin/env bash
# Set up a Raspberry Pi as a sensory music station: Debian packages, the service user,
# a virtualenv with the station installed, the configuration, the systemd units and the
# mosquitto settings.
#
# Safe to run again: every step looks first and acts only when something is missing or
# out of date, so a second run changes nothing. Configuration that already exists is
# never overwritten (a therapist may have edited it).
#
#   sudo scripts/install-pi.sh              # install
#   scripts/install-pi.sh --dry-run         # print what would be done, change nothing
#
# Where systemd is not running (a chroot, an image being built) the units are installed and
# enabled but nothing is started or reloaded: they start on the first boot. The tests point
# INSTALL_PI_SYSTEMD_RUNTIME at a folder of their own to play either case.
set -euo pipefail

readonly SERVICE_USER=sensory-station
readonly STATE_DIR=/var/lib/sensory-station
# The dashboard runs as a user of its own: its database and secret key are its alone.
readonly DASHBOARD_USER=sensory-dashboard
readonly DASHBOARD_STATE_DIR=/var/lib/sensory-dashboard
readonly DEVICE_GROUPS=(gpio audio input)  # input: USB switch interfaces
readonly MOSQUITTO_DIR=/etc/mosquitto
readonly UNITS_TO_ENABLE=(
    sensory-station.target
    sensory-station-jackd.service
    sensory-station-engine.service
    sensory-station-telemetry.service
)
# pyo publishes no wheels for ARM, so pip compiles it on the Pi: it needs a compiler,
# the Python headers and the -dev packages of the audio, MIDI and OSC libraries it links.
# fonts-dejavu-core has the font the dashboard sets its PDF reports in.
readonly APT_PACKAGES=(
    python3-venv python3-dev build-essential
    mosquitto mosquitto-clients
    jackd2 libportaudio2 portaudio19-dev libportmidi-dev liblo-dev libsndfile1-dev
    libjack-jackd2-dev
    fonts-dejavu-core
)
# lgpio drives the GPIO pins on every Pi model. Raspberry Pi OS's archive has it as
# python3-lgpio; plain Debian and Ubuntu do not, and there pip installs it (the [pi] extra).
readonly GPIO_PACKAGE=python3-lgpio
# The systemd runtime folder exists only while systemd runs as PID 1 (sd_booted(3)).
readonly SYSTEMD_RUNTIME="${INSTALL_PI_SYSTEMD_RUNTIME:-/run/systemd/system}"

prefix=/opt/sensory-station
config_dir=/etc/sensory-station
unit_dir=/etc/systemd/system
udev_dir=/etc/udev/rules.d
source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dry_run=false

usage() {
    cat <<EOF
Usage: $(basename "$0") [--dry-run] [--prefix DIR] [--config-dir DIR] [--unit-dir DIR] [--source DIR]

  --dry-run         print every action as "would: ..." and change nothing
  --prefix DIR      where the virtualenv goes (default: $prefix)
  --config-dir DIR  station configuration (default: $config_dir)
  --unit-dir DIR    systemd unit files (default: $unit_dir)
  --udev-dir DIR    udev rules (default: $udev_dir)
  --source DIR      the sensory-station source tree (default: $source_dir)
EOF
}

die() {
    printf 'install-pi: %s\n' "$*" >&2
    exit 1
}

warn() {
    printf 'install-pi: warning: %s\n' "$*" >&2
}

# One command as a line that could be pasted into a shell: plain words stay as they are,
# anything else goes in single quotes.
quote_command() {
    local word quoted=()
    for word in "$@"; do
        if [[ $word =~ ^[[:alnum:]_./:=@%+,-]+$ ]]; then
            quoted+=("$word")
        else
            quoted+=("'${word//\'/\'\\\'\'}'")
        fi
    done
    printf '%s' "${quoted[*]}"
}

# Runs a command, or in a dry run only prints it.
run() {
    local command_line
    command_line="$(quote_command "$@")"
    if [[ $dry_run == true ]]; then
        printf 'would: %s\n' "$command_line"
    else
        printf 'running: %s\n' "$command_line"
        "$@"
    fi
}

already() {
    printf 'ok: %s\n' "$*"
}

require_value() {
    (($# >= 2)) || die "$1 needs a directory argument; see --help"
}

while (($# > 0)); do
    case $1 in
        --dry-run) dry_run=true ;;
        --prefix)
            require_value "$@"
            prefix=$2
            shift
            ;;
        --config-dir)
            require_value "$@"
            config_dir=$2
            shift
            ;;
        --unit-dir)
            require_value "$@"
            unit_dir=$2
            shift
            ;;
        --udev-dir)
            require_value "$@"
            udev_dir=$2
            shift
            ;;
        --source)
            require_value "$@"
            source_dir=$2
            shift
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *) die "unknown option '$1'; see --help" ;;
    esac
    shift
done

readonly venv_dir="$prefix/venv"
readonly source_fingerprint_file="$prefix/installed-source.sha256"
# Written before unit files change, removed once systemd has reloaded them: a reload that
# failed (or was skipped) is tried again by the next run.
readonly reload_pending_file="$prefix/systemd-reload-pending"
readonly examples_dir="$prefix/examples/config"

systemd_running() {
    [[ -d $SYSTEMD_RUNTIME ]]
}

if [[ $dry_run != true && $EUID -ne 0 ]]; then
    die "must run as root to install packages, users and services: sudo $0 $*"
fi
[[ -d $source_dir/systemd ]] || die "$source_dir does not look like the sensory-station source (no systemd/); pass --source DIR"
if [[ ! -f $source_dir/pyproject.toml ]]; then
    if [[ $dry_run == true ]]; then
        warn "$source_dir has no pyproject.toml, so the pip install below would fail"
    else
        die "$source_dir has no pyproject.toml; pass the sensory-station source with --source DIR"
    fi
fi

printf 'prefix=%s\nconfig-dir=%s\nunit-dir=%s\nsource=%s\n' \
    "$prefix" "$config_dir" "$unit_dir" "$source_dir"

# --- Debian packages -----------------------------------------------------------------------

missing_packages=()
for package in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
        missing_packages+=("$package")
    fi
done
if ((${#missing_packages[@]} > 0)); then
    run apt-get update
fi
if dpkg-query -W -f='${Status}' "$GPIO_PACKAGE" 2>/dev/null | grep -q 'install ok installed'; then
    already "$GPIO_PACKAGE installed"
elif [[ -n $(apt-cache policy "$GPIO_PACKAGE" 2>/dev/null | sed -n 's/^ *Candidate: //p' | grep -v '(none)') ]]; then
    missing_packages+=("$GPIO_PACKAGE")
else
    printf 'note: %s is not in this system'"'"'s package archive (Raspberry Pi OS has it); pip installs lgpio instead\n' "$GPIO_PACKAGE"
fi
if ((${#missing_packages[@]} > 0)); then
    # Non-interactive: jackd2 otherwise stops to ask about real-time priority; the
    # engine's unit grants that itself (LimitRTPRIO).
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        "${missing_packages[@]}"
else
    already "Debian packages installed"
fi

# --- service user and its device groups ----------------------------------------------------

for group in "${DEVICE_GROUPS[@]}"; do
    if getent group "$group" >/dev/null; then
        already "group $group exists"
    else
        run groupadd --system "$group"
    fi
done

if id -u "$SERVICE_USER" >/dev/null 2>&1; then
    already "user $SERVICE_USER exists"
else
    run useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home \
        --shell /usr/sbin/nologin "$SERVICE_USER"
fi

for group in "${DEVICE_GROUPS[@]}"; do
    if id -nG "$SERVICE_USER" 2>/dev/null | tr ' ' '\n' | grep -qx "$group"; then
        already "user $SERVICE_USER is in group $group"
    else
        run usermod --append --groups "$group" "$SERVICE_USER"
    fi
done

if id -u "$DASHBOARD_USER" >/dev/null 2>&1; then
    already "user $DASHBOARD_USER exists"
else
    run useradd --system --user-group --home-dir "$DASHBOARD_STATE_DIR" --no-create-home \
        --shell /usr/sbin/nologin "$DASHBOARD_USER"
fi

if [[ -d $STATE_DIR ]]; then
    already "$STATE_DIR exists"
else
    # Same owner and mode the units' StateDirectory= gives it: the event log is health data.
    run install -d -o "$SERVICE_USER" -g "$SERVICE_USER" -m 0750 "$STATE_DIR"
fi

# --- virtualenv with the station -----------------------------------------------------------

if [[ -x $venv_dir/bin/python ]]; then
    already "virtualenv $venv_dir exists"
else
    # --system-site-packages: the GPIO library comes from Debian (python3-lgpio), and
    # would otherwise be invisible inside the venv.
    run install -d -m 0755 "$prefix"
    run python3 -m venv --system-site-packages "$venv_dir"
fi

# pip would take pyo's wheel where there is one, or build it without JACK where there is not
# (pyo's build turns JACK on only when asked): build it from source with JACK, once, before
# the station, so that the low-latency audio path exists on the Pi. The version range is the
# one pyproject.toml asks for.
pyo_requirement="$(grep -o '"pyo[^"]*"' "$source_dir/pyproject.toml" 2>/dev/null | head -1 | tr -d '"')"
pyo_requirement="${pyo_requirement:-pyo}"
pyo_has_jack() {
    "$venv_dir/bin/python" -c 'import sys, pyo; sys.exit(0 if pyo.withJack() else 1)' \
        >/dev/null 2>&1
}
if [[ -x $venv_dir/bin/python ]] && pyo_has_jack; then
    already "pyo with JACK support installed in $venv_dir"
else
    # Compiles pyo against the -dev packages above: several minutes on a Pi.
    run "$venv_dir/bin/pip" install --no-cache-dir --no-binary pyo \
        --config-settings=--build-option=--use-jack "$pyo_requirement"
    if [[ $dry_run != true ]] && ! pyo_has_jack; then
        die "pyo was built without JACK support although it was asked for; check that libjack-jackd2-dev is installed and run this script again"
    fi
fi

# pip reinstalls a source directory on every run, so a fingerprint of the source
# decides whether there is anything new to install.
source_fingerprint() {
    (
        cd "$source_dir"
        find pyproject.toml station -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 |
            LC_ALL=C sort -z |
            xargs -0 sha256sum |
            sha256sum |
            cut -d' ' -f1
    )
}
current_fingerprint=""
if [[ -f $source_dir/pyproject.toml && -d $source_dir/station ]]; then
    current_fingerprint="$(source_fingerprint)"
fi
installed_fingerprint=""
if [[ -f $source_fingerprint_file ]]; then
    installed_fingerprint="$(<"$source_fingerprint_file")"
fi
if [[ -n $current_fingerprint && $installed_fingerprint == "$current_fingerprint" ]]; then
    already "station from $source_dir already installed in $venv_dir"
else
    run "$venv_dir/bin/pip" install --no-cache-dir "${source_dir}[pi]"
    if [[ $dry_run == true ]]; then
        printf 'would: record the source fingerprint in %s\n' "$source_fingerprint_file"
    elif [[ -n $current_fingerprint ]]; then
        printf '%s\n' "$current_fingerprint" >"$source_fingerprint_file"
    fi
fi

# --- the dashboard's charts (uPlot, from npm, pinned) ---------------------------------------

# Fetched once into the virtualenv, where the dashboard looks for them (`[dashboard]
# assets_dir = ""`); the dashboard serves the files as they are, so the Pi needs no Node.js
# at run time, and npm only for this step.
assets_dir="$venv_dir/share/sensory-station/npm"
fetch_assets="$source_dir/scripts/fetch-npm-assets.sh"
if bash "$fetch_assets" --check "$assets_dir" uplot; then
    already "the dashboard's charts (uPlot) are in $assets_dir"
else
    if ! command -v npm >/dev/null; then
        printf 'npm is needed once, to fetch the dashboard'"'"'s charts (uPlot); nothing uses it at run time\n'
        ((${#missing_packages[@]} > 0)) || run apt-get update
        run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends npm
    fi
    run bash "$fetch_assets" "$assets_dir" uplot
fi

# --- configuration (never overwritten) -----------------------------------------------------

if [[ -d $config_dir ]]; then
    already "$config_dir exists"
else
    run install -d -o root -g "$SERVICE_USER" -m 0750 "$config_dir"
fi

shopt -s nullglob
for example in "$source_dir"/config/*.toml; do
    installed="$config_dir/$(basename "$example")"
    if [[ -e $installed ]]; then
        already "$installed exists, left as it is"
        continue
    fi
    # Readable by the service, not by everyone: it can hold the MQTT password.
    owner=$SERVICE_USER
    [[ $(basename "$example") == dashboard.toml ]] && owner=$DASHBOARD_USER
    run install -o root -g "$owner" -m 0640 "$example" "$installed"
    if [[ $(basename "$example") == dashboard.toml ]]; then
        run sed -i "/^\[dashboard\]/,/^\[/ s|^\(data_dir[[:space:]]*=[[:space:]]*\)\"[^\"]*\"|\1\"$DASHBOARD_STATE_DIR\"|" "$installed"
    fi
    if [[ $(basename "$example") == station.toml ]]; then
        # Only in a fresh copy: the example keeps its event log next to the source tree.
        run sed -i "/^\[station\]/,/^\[/ s|^\(data_dir[[:space:]]*=[[:space:]]*\)\"[^\"]*\"|\1\"$STATE_DIR\"|" "$installed"
        if [[ $dry_run != true ]] && ! grep -q "^data_dir[[:space:]]*=[[:space:]]*\"$STATE_DIR\"" "$installed"; then
            warn "found no data_dir line in [station] of $installed; add data_dir = \"$STATE_DIR\" there"
        fi
    fi
done
for example_dir in "$source_dir"/config/sound-sets "$source_dir"/config/clients \
                   "$source_dir"/config/activities; do
    [[ -d $example_dir ]] || continue
    installed="$config_dir/$(basename "$example_dir")"
    if [[ -e $installed ]]; then
        already "$installed exists, left as it is"
        continue
    fi
    run cp -R "$example_dir" "$installed"
    run chown -R "root:$SERVICE_USER" "$installed"
    run chmod -R u=rwX,g=rX,o= "$installed"
done
shopt -u nullglob

# The benchmarks measure with the shipped examples, which the copy in $config_dir is not
# once a therapist has edited it (station/bench/_config.py looks here).
if [[ -d $examples_dir ]] && diff -r -q "$source_dir/config" "$examples_dir" >/dev/null 2>&1; then
    already "$examples_dir is up to date"
else
    run rm -rf "$examples_dir"
    run install -d -m 0755 "$(dirname "$examples_dir")"
    run cp -R "$source_dir/config" "$examples_dir"
    run chmod -R u=rwX,go=rX "$examples_dir"
fi

# --- GPIO access ---------------------------------------------------------------------------

# Raspberry Pi OS lets the gpio group use /dev/gpiochip*; plain Debian and Ubuntu leave them
# to root, and the station (not root) could not read its switches.
gpio_rule="$udev_dir/60-sensory-station-gpio.rules"
if [[ -f $gpio_rule ]] && cmp -s "$source_dir/systemd/60-sensory-station-gpio.rules" "$gpio_rule"; then
    already "$gpio_rule is up to date"
else
    run install -D -m 0644 "$source_dir/systemd/60-sensory-station-gpio.rules" "$gpio_rule"
    if systemd_running; then
        run udevadm control --reload
        run udevadm trigger --subsystem-match=gpio
    fi
fi

# --- systemd units -------------------------------------------------------------------------

units_changed=false
shopt -s nullglob
for unit in "$source_dir"/systemd/*.service "$source_dir"/systemd/*.target; do
    installed="$unit_dir/$(basename "$unit")"
    if [[ -f $installed ]] && cmp -s "$unit" "$installed"; then
        already "$installed is up to date"
    else
        if [[ $units_changed != true && $dry_run != true ]]; then
            install -D -m 0644 /dev/null "$reload_pending_file"
        fi
        run install -D -m 0644 "$unit" "$installed"
        units_changed=true
    fi
done
shopt -u nullglob

if [[ $units_changed == true || -f $reload_pending_file ]]; then
    if systemd_running; then
        run systemctl daemon-reload
        [[ $dry_run == true ]] || rm -f "$reload_pending_file"
    else
        printf 'note: systemd is not running here (a chroot or an image build): the units are installed and enabled, and start on the next boot\n'
    fi
else
    already "systemd already has the current units"
fi

for unit_name in "${UNITS_TO_ENABLE[@]}"; do
    # Each is WantedBy=multi-user.target, so enabling it makes this link.
    if [[ -L $unit_dir/multi-user.target.wants/$unit_name ]]; then
        already "$unit_name enabled"
    else
        run systemctl enable "$unit_name"
    fi
done

# --- mosquitto -----------------------------------------------------------------------------

mosquitto_changed=false
mosquitto_snippet="$MOSQUITTO_DIR/conf.d/sensory-station.conf"
mosquitto_acl="$MOSQUITTO_DIR/sensory-station.acl"
mosquitto_passwords="$MOSQUITTO_DIR/sensory-station.passwd"
if [[ -e $mosquitto_snippet ]]; then
    already "$mosquitto_snippet exists, left as it is"
else
    run install -D -m 0644 "$source_dir/systemd/mosquitto-sensory-station.conf" "$mosquitto_snippet"
    mosquitto_changed=true
fi
if [[ -e $mosquitto_acl ]]; then
    already "$mosquitto_acl exists, left as it is"
else
    run install -m 0644 "$source_dir/systemd/mosquitto-sensory-station.acl" "$mosquitto_acl"
    mosquitto_changed=true
fi
if [[ -e $mosquitto_passwords ]]; then
    already "$mosquitto_passwords exists, left as it is"
else
    # mosquitto refuses to start without the file the snippet names. Empty, it lets
    # nobody in until logins are added with mosquitto_passwd.
    run install -o root -g mosquitto -m 0640 /dev/null "$mosquitto_passwords"
    mosquitto_changed=true
fi
if [[ $mosquitto_changed == true ]]; then
    if systemd_running; then
        run systemctl restart mosquitto.service
    else
        printf 'note: systemd is not running here: mosquitto reads its new settings when it starts on the next boot\n'
    fi
fi

if [[ $dry_run == true ]]; then
    printf '\nDry run: nothing was changed.\n'
    exit 0
fi
cat <<EOF

Done. Next steps:
  - add MQTT logins:   sudo mosquitto_passwd $mosquitto_passwords <station id>
  - edit the station:  $config_dir/station.toml ([station] id, [mqtt] host, username, password)
  - start it:          sudo systemctl start sensory-station.target
  - the dashboard:     sudo systemctl enable --now sensory-dashboard.service, then
                       sudo -u $DASHBOARD_USER $venv_dir/bin/station dashboard --config $config_dir/dashboard.toml add-user NAME --role admin
EOF
