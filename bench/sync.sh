#!/usr/bin/env bash
# The daemon against the simulator: throughput, CPU and peak RSS at 1k and
# 10k conversations without a quota, with the store's bytes per conversation
# and per activity (one in four open, then all closed); the store over
# simulated months of syncs and prunes; utilization and CPU at a 50 req/s
# quota; and how long a restart after SIGKILL takes to deliver again.
#
#   bash bench/sync.sh
#   SMALL=200 LARGE=2000 bash bench/sync.sh
#   BASELINE=/tmp/convsync-old bash bench/sync.sh   # only: this daemon and another's, side by side
#   PAIRS=5 BASELINE=... bash bench/sync.sh           # more alternating runs on a noisy machine
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
cargo build --profile dist --quiet --bin convsync
python3 bench/sync.py
