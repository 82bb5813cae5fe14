# Shared helpers for the benchmark scripts (sourced, not run).

# The binary under test: $OXIDESK_BIN, or the binary we ship
# (target/x86_64-unknown-linux-musl/dist/oxidesk, the `dist` profile) built
# (niced, since the machine is shared) when missing or older than the sources.
oxidesk_bin() {
    if [ -n "${OXIDESK_BIN:-}" ]; then
        [ -x "$OXIDESK_BIN" ] || { echo "OXIDESK_BIN=$OXIDESK_BIN is not executable" >&2; return 1; }
        echo "$OXIDESK_BIN"
        return
    fi
    local target=x86_64-unknown-linux-musl
    local bin="${CARGO_TARGET_DIR:-$root/target}/$target/dist/oxidesk"
    if [ ! -x "$bin" ] || [ -n "$(find "$root/src" "$root/assets" "$root/Cargo.toml" "$root/Cargo.lock" -newer "$bin" -print -quit)" ]; then
        echo "building $bin (cargo build --profile dist, niced)" >&2
        (cd "$root" && nice -n 10 cargo build --profile dist --locked --target "$target" --bin oxidesk >&2)
    fi
    echo "$bin"
}

# A database seeded with $2 tickets by binary $1, cached under
# benches/.cache keyed by the generator's code and the ticket count. Later
# migrations are applied by the binary when it opens the file, as on an
# upgraded installation, so a schema change does not force a reseed.
seeded_db() {
    local bin="$1" tickets="$2"
    local key
    key="$(cat "$root/src/store/seed.rs" "$root/src/cli/dev.rs" "$root/src/cli/dev/synth.rs" \
        | sha256sum | cut -c1-12)"
    local db="$cache/seed-${tickets}-${key}.db"
    if [ ! -f "$db" ]; then
        echo "seeding $tickets tickets into $db (once; cached)" >&2
        rm -f "$db.tmp" "$db.tmp-wal" "$db.tmp-shm"
        local t0=$SECONDS
        OXIDESK_LOG=warn nice -n 5 "$bin" --db "$db.tmp" dev seed --tickets "$tickets" --seed 1 >&2
        # Fold the WAL into the file so a plain copy is complete.
        sqlite3 "$db.tmp" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
        mv "$db.tmp" "$db"
        rm -f "$db.tmp-wal" "$db.tmp-shm"
        echo "seeded in $((SECONDS - t0)) s" >&2
    fi
    echo "$db"
}

# A free TCP port on 127.0.0.1.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# The process launcher used by the pipe benchmark (std-only Rust, built with
# rustc directly; no cargo project needed).
spawn_launcher() {
    local out="$cache/spawn"
    if [ ! -x "$out" ] || [ "$here/tools/spawn.rs" -nt "$out" ]; then
        rustc --edition 2021 -O -o "$out" "$here/tools/spawn.rs" >&2
    fi
    echo "$out"
}
