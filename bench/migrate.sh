#!/usr/bin/env bash
# Both ready migrations of `convsync sim --write-config` against the
# simulator without a quota: a first run, a second run (writes nothing) and
# a verify of each, with wall time, throughput, CPU and peak RSS.
#
#   bash bench/migrate.sh
#   CONVERSATIONS=500 bash bench/migrate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
cargo build --profile dist --quiet --bin convsync
python3 bench/migrate.py
