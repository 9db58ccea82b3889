#!/usr/bin/env bash
# Freshness: how long a message takes from LivePerson to the hub once the
# daemon has caught up. The strict simulator (an app key: transcripts by
# Messaging Interactions) holds N conversations, every fourth
# OPEN and gaining a message every 7 s; the daemon runs with the default
# 30 s poll; after it caught up, MEASURE_SECS of growth are measured: the
# hub's receipt time minus the message's LivePerson time (p50, p90, p99,
# max, from the simulator's ledger), LivePerson requests per cycle, and the
# daemon's CPU. Then the same for 10,000 conversations (QUOTA_SIZE) at a
# 20 req/s LivePerson quota (LP_QUOTA; the hub's client is not held to it).
#
#   bash bench/freshness.sh                                  # N = 1,000 and 10,000
#   SIZES="300 3000" MEASURE_SECS=120 bash bench/freshness.sh
#   BASELINE=/tmp/convsync-old bash bench/freshness.sh        # another daemon, side by side
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile dist --quiet --bin convsync
python3 bench/freshness.py
