#!/usr/bin/env bash
# The LivePerson client against the simulator at quota R, side by side with
# and without 30% injected 429s: achieved rate / R, violations the simulator
# counted, and the client's CPU seconds per 1,000 requests.
#
#   bash bench/quota.sh              # R = 50 req/s, 1,000 requests, 8 tasks
#   RATE=20 REQUESTS=400 bash bench/quota.sh
set -euo pipefail
cd "$(dirname "$0")/.."

rate=${RATE:-50}
requests=${REQUESTS:-1000}
# Every 429 holds the client back a second or two: fewer requests for that case.
storm_requests=${STORM_REQUESTS:-200}
tasks=${TASKS:-8}
out=bench/out
mkdir -p "$out"
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl >/dev/null; }

cargo build --release --quiet --bin convsync --example quota_client
bin=target/release/convsync

run() { # NAME REQUESTS SIM-FLAGS...
  local name=$1 requests=$2; shift 2
  "$bin" sim --listen 127.0.0.1:0 --conversations 40 --quota "$rate" --write-config "$out/quota-$name.toml" "$@" \
    > "$out/sim-$name.out" 2>/dev/null &
  local sim=$!
  for _ in $(seq 100); do [ -s "$out/sim-$name.out" ] && break; sleep 0.05; done
  local base
  base=$(sed -n 's/.*"csds":"\([^"]*\)".*/\1/p' "$out/sim-$name.out")
  # The client asks for exactly the quota, one at a time.
  sed -i "s/^requests_per_second = .*/requests_per_second = $rate/; s/^burst = .*/burst = 1/" "$out/quota-$name.toml"
  /usr/bin/time -f "%U %S" -o "$out/time-$name" \
    target/release/examples/quota_client "$out/quota-$name.toml" "$requests" "$tasks" > "$out/client-$name.json"
  curl -s "$base/sim/stats" > "$out/stats-$name.json"
  kill "$sim"; wait "$sim" 2>/dev/null || true
  python3 - "$name" "$rate" "$out" <<'PY'
import json, sys
name, rate, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
c = json.load(open(f"{out}/client-{name}.json"))
s = json.load(open(f"{out}/stats-{name}.json"))
u, sy = map(float, open(f"{out}/time-{name}").read().split())
print(f"{name:<12} {c['requests']:>8} {c['elapsed_secs']:>9.2f} {c['rate']:>9.2f} {c['rate']/rate:>8.3f} "
      f"{c['rate_limited']:>6} {s['violations_retry_after']:>10} {s['violations_quota']:>10} {1000*(u+sy)/c['requests']:>12.3f}")
PY
}

echo "quota R = $rate req/s, $tasks tasks; $requests requests without 429s, $storm_requests with"
printf '%-12s %8s %9s %9s %8s %6s %10s %10s %12s\n' case requests "wall s" "req/s" "rate/R" 429s "RA-viol" "quota-viol" "CPU s/1k req"
run plain "$requests"
run storm-429 "$storm_requests" --fault-429 0.3 --retry-after mixed
