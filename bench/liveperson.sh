#!/usr/bin/env bash
# LivePerson requests per conversation synced, by transcript route, side by
# side in one run: the daemon (`run --until-idle`) against `convsync sim`
# holding N conversations.
#
# - interactions: `sim --strict` (content search only for a consumer's JWT)
#   and the app-key config it writes, transcripts = "auto": content search
#   is refused, and transcripts ride on discovery and come 100 a call.
# - content search: the lenient simulator and a bearer config
#   (transcripts = "auto" keeps to content search: it answers).
#
#   bash bench/liveperson.sh              # N = 2,000
#   CONVERSATIONS=500 bash bench/liveperson.sh
set -euo pipefail
cd "$(dirname "$0")/.."

n=${CONVERSATIONS:-2000}
out=bench/out/liveperson
rm -rf "$out"
mkdir -p "$out"
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl >/dev/null; }

cargo build --profile dist --quiet --bin convsync
bin=target/dist/convsync

run() { # NAME SIM-FLAGS...
  local name=$1; shift
  "$bin" sim --listen 127.0.0.1:0 --conversations "$n" --growth 0 --write-config "$out/$name.toml" "$@" \
    > "$out/sim-$name.out" 2>/dev/null &
  local sim=$!
  for _ in $(seq 200); do [ -s "$out/sim-$name.out" ] && break; sleep 0.05; done
  local base
  base=$(sed -n 's/.*"csds":"\([^"]*\)".*/\1/p' "$out/sim-$name.out")
  # Requests are counted, not timed: a quota that does not hold it back.
  sed -i "s/^requests_per_second = .*/requests_per_second = 1000/; s/^burst = .*/burst = 100/" "$out/$name.toml"
  printf '\n[sync]\nstate_dir = "%s"\nconcurrency = 16\npoll_interval_secs = 0.5\nmetrics_listen = ""\n' \
    "$out/state-$name" >> "$out/$name.toml"
  local t0 t1
  t0=$(date +%s.%N)
  "$bin" --config "$out/$name.toml" run --until-idle 2> "$out/run-$name.err"
  t1=$(date +%s.%N)
  curl -s "$base/sim/stats" > "$out/stats-$name.json"
  curl -s "$base/sim/ledger" > "$out/ledger-$name.json"
  kill "$sim"; wait "$sim" 2>/dev/null || true
  python3 - "$name" "$out" "$t0" "$t1" <<'PY'
import json, sys
name, out, t0, t1 = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
s = json.load(open(f"{out}/stats-{name}.json"))
synced = len(json.load(open(f"{out}/ledger-{name}.json")))
req = lambda e: sum(s["requests"].get(e, {}).values())
lp = {e: req(e) for e in ["csds", "lp.conversations_search", "lp.conversation_search", "lp.content_search"]}
total = sum(lp.values())
print(f"| {name} | {synced} | {lp['lp.conversations_search']} | {lp['lp.conversation_search']} | "
      f"{lp['lp.content_search']} | {total} | {total / max(synced, 1):.3f} | "
      f"{s['duplicate_deliveries']} | {s['searches_without_content_to_retrieve']} | {t1 - t0:.1f} |")
PY
}

echo "$n conversations; LivePerson requests by endpoint (every status), per conversation synced"
echo "| route | conversations synced | conversations/search | conversation/search | content search | LP requests | per conversation | duplicates | searches without contentToRetrieve | wall s |"
echo "|---|---|---|---|---|---|---|---|---|---|"
run interactions --strict
run content-search
