#!/usr/bin/env bash
# Checks systemd/convsync.service with systemd's own analyzer: the unit
# must verify and its exposure score must be at most 2.0.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v systemd-analyze >/dev/null || { apt-get update -qq && apt-get install -y -qq systemd >/dev/null; }
score=$(systemd-analyze security --offline=true systemd/convsync.service | sed -n 's/.*exposure level for convsync.service: \([0-9.]*\).*/\1/p')
echo "systemd/convsync.service exposure: $score (target <= 2.0)"
awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.0) }'
