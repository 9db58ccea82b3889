#!/usr/bin/env bash
# Checks the units under systemd/ with systemd's own analyzer: each
# exposure score must be at most 2.0.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v systemd-analyze >/dev/null || { apt-get update -qq && apt-get install -y -qq systemd >/dev/null; }
status=0
for unit in convsync.service convsync-backfill@.service convsync-migrate@.service; do
  score=$(systemd-analyze security --offline=true "systemd/$unit" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
  echo "systemd/$unit exposure: $score (target <= 2.0)"
  awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.0) }' || status=1
done
exit $status
