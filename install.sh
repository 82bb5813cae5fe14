#!/usr/bin/env bash
# Build, install and wire up Oxidesk on Debian or Ubuntu.
#
#   ./install.sh --run                   build from source and run the helpdesk
#                                        here, in the foreground, on ./oxidesk.db
#   ./install.sh                         build and install as a system service
#   ./install.sh --binary ./oxidesk      install a prebuilt binary instead
#   ./install.sh --with-postfix support@example.com
#                                        also pipe that address into Oxidesk
#   ./install.sh --uninstall [--purge]   remove the service (and the data)
#
# Idempotent: a second run changes nothing it already set up, and never
# replaces the configuration file or its secrets. Run ./install.sh --help for
# every option.
set -euo pipefail

TARGET=x86_64-unknown-linux-musl
SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PREFIX=""
BINARY=""
MODE=install
PURGE=0
SYSTEMD=1
POSTFIX_ADDRESS=""
POSTFIX_CONFIG=/etc/postfix
LISTEN=127.0.0.1:8080
BASE_URL=""
USER_NAME=oxidesk

usage() {
    cat <<'EOF'
Usage: install.sh [OPTIONS]

  --run                  Build (installing missing Debian build packages and
                         Rust) and run `oxidesk serve` in the foreground on
                         ./oxidesk.db. Needs no root once the packages exist.
  --build                Only build the static binary; print its path.
  --binary PATH          Install this prebuilt binary instead of building.
  --with-postfix ADDRESS Pipe mail for ADDRESS into `oxidesk pipe` through a
                         Postfix pipe transport running as the oxidesk user.
  --postfix-config DIR   Postfix configuration directory (default /etc/postfix).
  --listen ADDR:PORT     Address the service listens on (default 127.0.0.1:8080).
  --base-url URL         Public URL of the helpdesk (default http://LISTEN).
  --no-systemd           Do not install a systemd unit (containers); start the
                         helpdesk yourself with the printed command.
  --prefix DIR           Install below DIR instead of / (for tests).
  --uninstall            Remove the service, the binary and the Postfix wiring;
                         keep the data and configuration.
  --purge                With --uninstall: also delete data, configuration and
                         the oxidesk user.
  -h, --help             This text.
EOF
}

say() { printf 'install.sh: %s\n' "$*"; }
die() {
    printf 'install.sh: %s\n' "$*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case "$1" in
    --run) MODE=run ;;
    --build) MODE=build ;;
    --binary) BINARY=${2:?--binary needs a path}; shift ;;
    --with-postfix) POSTFIX_ADDRESS=${2:?--with-postfix needs an address}; shift ;;
    --postfix-config) POSTFIX_CONFIG=${2:?--postfix-config needs a directory}; shift ;;
    --listen) LISTEN=${2:?--listen needs ADDR:PORT}; shift ;;
    --base-url) BASE_URL=${2:?--base-url needs a URL}; shift ;;
    --no-systemd) SYSTEMD=0 ;;
    --prefix) PREFIX=${2:?--prefix needs a directory}; shift ;;
    --uninstall) MODE=uninstall ;;
    --purge) PURGE=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
done

if [ -n "$PREFIX" ]; then
    mkdir -p "$PREFIX"
    PREFIX=$(cd "$PREFIX" && pwd)
fi
BIN_PATH=$PREFIX/usr/local/bin/oxidesk
CONF_DIR=$PREFIX/etc/oxidesk
CONF=$CONF_DIR/oxidesk.toml
DATA_DIR=$PREFIX/var/lib/oxidesk
DB=$DATA_DIR/oxidesk.db
UNIT=$PREFIX/etc/systemd/system/oxidesk.service
[ -n "$BASE_URL" ] || BASE_URL="http://$LISTEN"

# Run as root, or through sudo when that exists.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        die "this step needs root: $*"
    fi
}

APT_UPDATED=0
# Install the Debian packages among "$@" that are missing.
ensure_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing Debian packages: ${missing[*]}"
    if [ "$APT_UPDATED" -eq 0 ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# A Rust toolchain new enough for Cargo.toml's rust-version, with the musl
# target. Debian's rustc is too old, so this uses rustup (the official
# installer) when cargo is missing.
ensure_rust() {
    [ -d "$HOME/.cargo/bin" ] && PATH=$HOME/.cargo/bin:$PATH
    if ! command -v rustup >/dev/null; then
        say "installing Rust with rustup"
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
            sh -s -- -y --profile minimal --default-toolchain stable
        PATH=$HOME/.cargo/bin:$PATH
    fi
    rustup target list --installed | grep -qx "$TARGET" || rustup target add "$TARGET"
}

# Build the static binary in the profile we ship (Cargo.toml's `dist`);
# print nothing but its path on stdout.
build() {
    ensure_packages build-essential musl-tools git curl ca-certificates
    ensure_rust
    (cd "$SRC_DIR" && cargo build --profile dist --locked --target "$TARGET" >&2)
    echo "${CARGO_TARGET_DIR:-$SRC_DIR/target}/$TARGET/dist/oxidesk"
}

random_secret() {
    od -An -tx1 -N32 /dev/urandom | tr -d ' \n'
}

# Write $2 to $1 with mode $3 and owner $4 only if the content differs, so a
# second run leaves files (and their times) alone.
put_file() {
    local path=$1 content=$2 mode=$3 owner=$4
    if [ ! -f "$path" ] || [ "$(cat "$path")" != "$content" ]; then
        printf '%s\n' "$content" >"$path.new"
        mv "$path.new" "$path"
    fi
    chmod "$mode" "$path"
    chown "$owner" "$path"
}

as_user() {
    if command -v runuser >/dev/null; then
        runuser -u "$USER_NAME" -- "$@"
    else
        su -s /bin/sh "$USER_NAME" -c "$(printf '%q ' "$@")"
    fi
}

unit_text() {
    cat <<EOF
[Unit]
Description=Oxidesk helpdesk
Documentation=https://github.com/oxidesk/oxidesk
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=$USER_NAME
Group=$USER_NAME
ExecStart=/usr/local/bin/oxidesk --config /etc/oxidesk/oxidesk.toml serve
Restart=on-failure
RestartSec=2s
KillSignal=SIGTERM
# On SIGTERM serve lets requests finish (up to 10 s) and the outbox worker
# finish the delivery it is in (each SMTP step may take smtp.timeout_seconds).
TimeoutStopSec=90s
UMask=0027
# Hardening: the service sees a read-only system, writes only its data dir.
ProtectSystem=strict
ReadWritePaths=/var/lib/oxidesk
ProtectHome=true
PrivateTmp=true
PrivateDevices=true
NoNewPrivileges=true
CapabilityBoundingSet=
AmbientCapabilities=
ProtectKernelTunables=true
ProtectKernelModules=true
ProtectKernelLogs=true
ProtectControlGroups=true
ProtectClock=true
ProtectHostname=true
ProtectProc=invisible
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=true
RestrictRealtime=true
RestrictSUIDSGID=true
LockPersonality=true
MemoryDenyWriteExecute=true
RemoveIPC=true
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources

[Install]
WantedBy=multi-user.target
EOF
}

config_text() {
    cat <<EOF
# Oxidesk configuration. Every key can also be set by the environment
# variable OXIDESK_SECTION_KEY (e.g. OXIDESK_SERVER_LISTEN). Generated by
# install.sh; it is never overwritten by a later run.

[database]
path = "$DB"

[server]
listen = "$LISTEN"
base_url = "$BASE_URL"
# Proxies whose X-Forwarded-* headers are trusted (e.g. ["127.0.0.1"]).
trusted_proxies = []
secret = "$(random_secret)"
metrics_token = "$(random_secret)"

[log]
format = "human"
level = "info"
EOF
}

have_systemd() {
    [ "$SYSTEMD" -eq 1 ] && [ -z "$PREFIX" ] && [ -d /run/systemd/system ]
}

install_all() {
    [ "$(id -u)" -eq 0 ] || die "run install.sh as root (or use --run to try it out)"
    if [ -z "$BINARY" ]; then
        BINARY=$(build)
    fi
    [ -x "$BINARY" ] || die "no executable binary at $BINARY"
    "$BINARY" --version >/dev/null || die "$BINARY does not run on this machine"

    getent group "$USER_NAME" >/dev/null || groupadd --system "$USER_NAME"
    if ! getent passwd "$USER_NAME" >/dev/null; then
        useradd --system --gid "$USER_NAME" --home-dir /var/lib/oxidesk \
            --no-create-home --shell /usr/sbin/nologin "$USER_NAME"
        say "created the system user $USER_NAME"
    fi

    install -d -m 0755 "$PREFIX/usr/local/bin" "$PREFIX/etc"
    if ! cmp -s "$BINARY" "$BIN_PATH"; then
        install -m 0755 "$BINARY" "$BIN_PATH.new"
        mv "$BIN_PATH.new" "$BIN_PATH"
        say "installed $BIN_PATH ($("$BIN_PATH" --version))"
    fi
    install -d -m 0750 -o root -g "$USER_NAME" "$CONF_DIR"
    install -d -m 0750 -o "$USER_NAME" -g "$USER_NAME" "$DATA_DIR"
    chmod 0750 "$CONF_DIR" "$DATA_DIR"
    if [ ! -f "$CONF" ]; then
        put_file "$CONF" "$(config_text)" 0640 "root:$USER_NAME"
        say "wrote $CONF with fresh secrets"
    fi
    chmod 0640 "$CONF"
    chown "root:$USER_NAME" "$CONF"

    # Create or migrate the database as the service user (a migration keeps a
    # copy of the previous database beside it first).
    local fresh=0
    [ -f "$DB" ] || fresh=1
    as_user "$BIN_PATH" --config "$CONF" migrate >/dev/null
    local admin=""
    if [ "$fresh" -eq 1 ]; then
        admin=$(first_admin || true)
    fi

    if [ -n "$POSTFIX_ADDRESS" ]; then
        wire_postfix
    fi

    if [ "$SYSTEMD" -eq 1 ]; then
        install -d -m 0755 "$PREFIX/etc/systemd" "$PREFIX/etc/systemd/system"
        put_file "$UNIT" "$(unit_text)" 0644 root:root
        if have_systemd; then
            systemctl daemon-reload
            systemctl enable --now oxidesk.service >/dev/null 2>&1
            systemctl try-restart oxidesk.service
            say "the oxidesk service is enabled and running"
        else
            say "systemd is not running here: start the helpdesk with the command below"
        fi
    fi

    echo
    echo "Oxidesk is installed."
    echo "  URL:           $BASE_URL/"
    if [ -n "$admin" ]; then
        echo "  First admin:   $admin"
    fi
    echo "  Configuration: $CONF"
    echo "  Database:      $DB"
    if ! have_systemd; then
        echo "  Start it with: runuser -u $USER_NAME -- $BIN_PATH --config $CONF serve"
    fi
}

# Create the first administrator (OXIDESK_ADMIN_EMAIL, default
# admin@localhost) with a generated password; print "EMAIL / PASSWORD".
# Should that fail, `serve` creates one and prints it on its first start.
first_admin() {
    local password email=${OXIDESK_ADMIN_EMAIL:-admin@localhost}
    password=$(random_secret | cut -c1-20)
    if printf '%s\n' "$password" | as_user "$BIN_PATH" --config "$CONF" staff add "$email" \
        --name Administrator --admin --all-departments --password-stdin >/dev/null; then
        echo "$email / $password (change it after signing in)"
    elif have_systemd; then
        echo "printed by the helpdesk on its first start (journalctl -u oxidesk)"
    else
        echo "printed by the helpdesk on its first start"
    fi
}

POSTFIX_BEGIN="# oxidesk: begin (managed by install.sh)"
POSTFIX_END="# oxidesk: end"

# Remove the block install.sh added to $1, if any.
strip_block() {
    local file=$1
    [ -f "$file" ] || return 0
    if grep -qF "$POSTFIX_BEGIN" "$file"; then
        sed -i "/^$POSTFIX_BEGIN\$/,/^$POSTFIX_END\$/d" "$file"
    fi
}

# Mail for the support address goes to a pipe(8) transport that runs
# `oxidesk pipe` as the oxidesk user. A pipe transport (rather than a
# |command alias) runs as a user of our choosing without a wrapper, hands
# over the whole message, and maps exit code 75 (EX_TEMPFAIL, database busy)
# to a deferral that Postfix retries.
wire_postfix() {
    command -v postconf >/dev/null || die "Postfix is not installed (apt-get install postfix)"
    local cf=$POSTFIX_CONFIG domain transport_file=$POSTFIX_CONFIG/oxidesk_transport
    if [ ! -f "$cf/main.cf" ] || [ ! -f "$cf/master.cf" ]; then
        die "no Postfix configuration in $cf"
    fi
    domain=${POSTFIX_ADDRESS#*@}
    [ "$domain" != "$POSTFIX_ADDRESS" ] || die "--with-postfix needs a full address like support@example.com"

    local block
    block=$(printf '%s\n%s\n%s\n%s\n' "$POSTFIX_BEGIN" \
        "oxidesk   unix  -       n       n       -       -       pipe" \
        "  flags=DR user=$USER_NAME argv=$BIN_PATH --config $CONF pipe" \
        "$POSTFIX_END")
    if ! grep -qF "argv=$BIN_PATH --config $CONF pipe" "$cf/master.cf"; then
        strip_block "$cf/master.cf"
        printf '%s\n' "$block" >>"$cf/master.cf"
    fi
    put_file "$transport_file" "$POSTFIX_ADDRESS oxidesk:" 0644 root:root
    postmap -c "$cf" "hash:$transport_file"

    # Add our map in front of any transport_maps already configured.
    local maps
    maps=$(postconf -c "$cf" -h transport_maps)
    case "$maps" in
    *"hash:$transport_file"*) ;;
    "") postconf -c "$cf" -e "transport_maps = hash:$transport_file" ;;
    *) postconf -c "$cf" -e "transport_maps = hash:$transport_file, $maps" ;;
    esac
    postconf -c "$cf" -e "oxidesk_destination_recipient_limit = 1"
    # The domain must be one Postfix accepts mail for.
    local dests
    dests=$(postconf -c "$cf" -h mydestination)
    case ", $dests," in
    *", $domain,"* | *" $domain,"*) ;;
    *)
        if ! postconf -c "$cf" -h virtual_mailbox_domains relay_domains | grep -qw "$domain"; then
            postconf -c "$cf" -e "mydestination = ${dests:+$dests, }$domain"
        fi
        ;;
    esac
    if postfix -c "$cf" status >/dev/null 2>&1; then
        postfix -c "$cf" reload >/dev/null 2>&1
    fi
    say "Postfix pipes mail for $POSTFIX_ADDRESS into oxidesk (transport map $transport_file)"
}

unwire_postfix() {
    local cf=$POSTFIX_CONFIG transport_file=$POSTFIX_CONFIG/oxidesk_transport
    if ! command -v postconf >/dev/null || [ ! -f "$cf/master.cf" ]; then
        return 0
    fi
    if ! grep -qF "$POSTFIX_BEGIN" "$cf/master.cf" && [ ! -f "$transport_file" ]; then
        return 0
    fi
    postconf -c "$cf" -X oxidesk_destination_recipient_limit 2>/dev/null || true
    strip_block "$cf/master.cf"
    local maps
    maps=$(postconf -c "$cf" -h transport_maps | sed "s#hash:$transport_file,\? *##")
    postconf -c "$cf" -e "transport_maps = $maps"
    rm -f "$transport_file" "$transport_file.db"
    if postfix -c "$cf" status >/dev/null 2>&1; then
        postfix -c "$cf" reload >/dev/null 2>&1
    fi
    say "removed the Postfix wiring from $cf"
}

uninstall() {
    [ "$(id -u)" -eq 0 ] || die "run install.sh --uninstall as root"
    if [ -f "$UNIT" ]; then
        if have_systemd; then
            systemctl disable --now oxidesk.service >/dev/null 2>&1 || true
        fi
        rm -f "$UNIT"
        have_systemd && systemctl daemon-reload
        say "removed the systemd unit"
    fi
    unwire_postfix
    if [ -f "$BIN_PATH" ]; then
        rm -f "$BIN_PATH"
        say "removed $BIN_PATH"
    fi
    if [ "$PURGE" -eq 1 ]; then
        rm -rf "$DATA_DIR" "$CONF_DIR"
        if getent passwd "$USER_NAME" >/dev/null && [ -z "$PREFIX" ]; then
            userdel "$USER_NAME" 2>/dev/null || true
        fi
        say "purged $DATA_DIR and $CONF_DIR"
    else
        say "kept the data in $DATA_DIR and the configuration in $CONF_DIR (--purge deletes them)"
    fi
}

run_here() {
    local bin
    bin=$(build)
    say "built $bin ($("$bin" --version)); starting the helpdesk on ./oxidesk.db"
    exec "$bin" --db ./oxidesk.db serve
}

case "$MODE" in
run) run_here ;;
build) build ;;
install) install_all ;;
uninstall) uninstall ;;
esac
