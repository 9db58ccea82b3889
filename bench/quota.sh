#!/usr/bin/env bash
# The LivePerson client against the simulator at quota R, side by side with
# and without 30% injected 429s: achieved rate / R, violations the simulator
# counted, and the client's CPU seconds per 1,000 requests. Then the learned
# pace ("auto") beside fixed settings, against a quota of 20 req/s and
# against a server that takes 4 requests in flight (50 ms each).
#
#   bash bench/quota.sh              # R = 50 req/s, 1,000 requests, 8 tasks; 120 s a pace case
#   RATE=20 REQUESTS=400 DURATION=90 bash bench/quota.sh
#   CASES='^(quota20|inflight4)' bash bench/quota.sh   # only the cases matching
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

cargo build --profile dist --quiet --bin convsync --example quota_client
bin=target/dist/convsync

run() { # NAME REQUESTS SIM-FLAGS...
  local name=$1 requests=$2; shift 2
  [[ $name =~ ${CASES:-.} ]] || return 0
  "$bin" sim --listen 127.0.0.1:0 --conversations 40 --quota "$rate" --write-config "$out/quota-$name.toml" "$@" \
    > "$out/sim-$name.out" 2>/dev/null &
  local sim=$!
  for _ in $(seq 100); do [ -s "$out/sim-$name.out" ] && break; sleep 0.05; done
  local base
  base=$(sed -n 's/.*"csds":"\([^"]*\)".*/\1/p' "$out/sim-$name.out")
  # The client asks for exactly the quota, one at a time.
  sed -i "s/^requests_per_second = .*/requests_per_second = $rate/; s/^burst = .*/burst = 1\nmax_concurrency = 4/" "$out/quota-$name.toml"
  /usr/bin/time -f "%U %S" -o "$out/time-$name" \
    target/dist/examples/quota_client "$out/quota-$name.toml" "$requests" "$tasks" > "$out/client-$name.json"
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

# Learned pace ("auto") beside fixed settings, each run for $secs seconds:
# what share of what the server allows the client achieved, and what share
# of its requests were answered 429, in the first 60 s and after.
secs=${DURATION:-120}
paced() { # NAME ALLOWS(req/s, or "ref") RPS CONCURRENCY TASKS SIM-FLAGS...
  local name=$1 allows=$2 rps=$3 conc=$4 tasks=$5; shift 5
  [[ $name =~ ${CASES:-.} ]] || return 0
  "$bin" sim --listen 127.0.0.1:0 --conversations 40 --write-config "$out/paced-$name.toml" "$@" \
    > "$out/sim-$name.out" 2>/dev/null &
  local sim=$!
  for _ in $(seq 100); do [ -s "$out/sim-$name.out" ] && break; sleep 0.05; done
  local base
  base=$(sed -n 's/.*"csds":"\([^"]*\)".*/\1/p' "$out/sim-$name.out")
  local q='"'
  [ "$rps" = auto ] && rps="${q}auto${q}"
  [ "$conc" = auto ] && conc="${q}auto${q}"
  sed -i "s/^requests_per_second = .*/requests_per_second = $rps/; s/^burst = .*/burst = 10\nmax_concurrency = $conc/" "$out/paced-$name.toml"
  target/dist/examples/quota_client "$out/paced-$name.toml" 0 "$tasks" "$secs" > "$out/client-$name.json"
  curl -s "$base/sim/stats" > "$out/stats-$name.json"
  kill "$sim"; wait "$sim" 2>/dev/null || true
  python3 - "$name" "$allows" "$out" <<'PY'
import json, sys
name, allows, out = sys.argv[1], sys.argv[2], sys.argv[3]
c = json.load(open(f"{out}/client-{name}.json"))
if name.endswith("-reference"):
    allows = c["rate"]
    json.dump({"rate": c["rate"]}, open(f"{out}/reference", "w"))
elif allows == "ref":
    allows = json.load(open(f"{out}/reference"))["rate"]
else:
    allows = float(allows)
f = c["first"]
d1, r1 = f["requests"], f["rate_limited"]
d2, r2 = c["requests"] - d1, c["rate_limited"] - r1
t2 = c["elapsed_secs"] - 60
share = lambda d, r: r / (d + r) if d + r else 0.0
pace = c.get("pace") or {}
print(f"{name:<20} {allows:>8.1f} {d1/60/allows:>9.3f} {share(d1, r1):>9.4f} {d2/t2/allows:>9.3f} {share(d2, r2):>9.4f} "
      f"{pace.get('requests_per_second', 0):>8.1f} {pace.get('concurrency', 0):>5}")
PY
}

echo
echo "pace: ${secs} s a case; achieved = requests answered / what the server allows; 429s = share of requests answered 429"
printf '%-20s %8s %9s %9s %9s %9s %8s %5s\n' case "allows/s" "0-60s" "429s" "60s-end" "429s" "rate" "conc"
paced quota20-fixed50 20 50 4 8 --quota 20
paced quota20-fixed10 20 10 4 8 --quota 20
paced quota20-auto 20 auto auto 8 --quota 20
paced inflight4-reference ref 1000 4 16 --max-in-flight 4 --latency-ms 50
paced inflight4-fixed8 ref 1000 8 16 --max-in-flight 4 --latency-ms 50
paced inflight4-auto ref auto auto 16 --max-in-flight 4 --latency-ms 50
