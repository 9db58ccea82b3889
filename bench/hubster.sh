#!/usr/bin/env bash
# The daemon, a backfill and a LivePerson -> Hubster migration, five seeds
# each, against a strict Hubster whose reads lag 2 s and hold 50
# activities, where 5% of posts complete after the client's timeout and 5%
# of answers are reset: every activity once (the simulator's ledger, then
# `convsync verify`), no post refused.
#
#   bash bench/hubster.sh
#   CONVERSATIONS=20 SEEDS=3 bash bench/hubster.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python3 bench/hubster.py
