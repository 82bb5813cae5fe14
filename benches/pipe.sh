#!/usr/bin/env bash
# Pipe benchmark (issue 2). Pipes 1,000 varied messages into `oxidesk pipe`,
# one process per message as an MTA does, into a copy of a database seeded
# with 100,000 tickets, and measures in the same run the floor: one `sqlite3`
# CLI process per message inserting the raw message into a WAL database.
# Then the same with 4 concurrent workers (exit 75 is retried, as an MTA
# would, and counted). Prints a table; see benches/README.md.
#
# Environment:
#   OXIDESK_BIN   binary to test (default: the dist build, built
#                 with `nice cargo build --profile dist` when missing or stale)
#   TICKETS       tickets in the seeded database (default 100000)
#   MESSAGES      messages to pipe (default 1000)
#   WORKERS       concurrent pipers in the second run (default 4)
#   CORPUS        corpus folder (default ../shared/corpus)
#   SKIP_OXIDESK  1 = measure only the floor
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cache="$here/.cache"
mkdir -p "$cache"

tickets="${TICKETS:-100000}"
messages="${MESSAGES:-1000}"
workers="${WORKERS:-4}"
corpus="${CORPUS:-$root/../shared/corpus}"

for tool in sqlite3 python3; do
    command -v "$tool" >/dev/null || { echo "pipe.sh: $tool is required (apt-get install $tool)" >&2; exit 1; }
done

source "$here/lib.sh"
bin="$(oxidesk_bin)"
echo "binary: $bin ($("$bin" --version))"
seeded="$(seeded_db "$bin" "$tickets")"
launcher="$(spawn_launcher)"
echo "seeded database: $seeded"
if [ ! -d "$corpus" ]; then
    echo "pipe.sh: corpus not found at $corpus; using generated messages only" >&2
    corpus=""
fi

work="$cache/pipe-run"
rm -rf "$work"
mkdir -p "$work"
extra=()
[ "${SKIP_OXIDESK:-0}" = 1 ] && extra+=(--skip-oxidesk)
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$here/pipe_driver.py" --bin "$bin" --launcher "$launcher" --seeded-db "$seeded" --work "$work" \
    --corpus "$corpus" --messages "$messages" --workers "$workers" \
    --json "$work/results.json" "${extra[@]}"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "logs and results: $work"

