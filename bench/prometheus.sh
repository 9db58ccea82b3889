#!/usr/bin/env bash
# convsync under a real Prometheus: the simulator and the daemon on
# loopback, Prometheus scraping /metrics every second. Checks that a live
# scrape passes `promtool check metrics`, that the shipped alert rules pass
# their unit tests, that Prometheus computes a p99 of request latency from
# convsync's histogram, and that every query of the Grafana dashboard runs.
#
#   bash bench/prometheus.sh        # needs prometheus and promtool (Debian: apt-get install prometheus)
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in prometheus promtool curl; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIPPED: bench/prometheus.sh needs $tool (apt-get install prometheus curl)"
    exit 0
  fi
done

out=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$out"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

cargo build --quiet --bin convsync
bin=target/debug/convsync
mport=$(free_port)
pport=$(free_port)

"$bin" sim --listen 127.0.0.1:0 --conversations 200 --grow-every 1 --fault-429 0.01 \
  --write-config "$out/sim.toml" > "$out/sim.out" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do [ -s "$out/sim.out" ] && break; sleep 0.05; done
printf '\n[sync]\nstate_dir = "%s"\npoll_interval_secs = 1\nmetrics_listen = "127.0.0.1:%s"\n' "$out/state" "$mport" >> "$out/sim.toml"
"$bin" --config "$out/sim.toml" run 2> "$out/daemon.err" &
pids+=($!)

cat > "$out/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $PWD/deploy/prometheus/alerts.yml
scrape_configs:
  - job_name: convsync
    static_configs:
      - targets: ["127.0.0.1:$mport"]
YML
prometheus --config.file="$out/prometheus.yml" --storage.tsdb.path="$out/tsdb" \
  --web.listen-address="127.0.0.1:$pport" > "$out/prometheus.log" 2>&1 &
pids+=($!)

query() { # PROMQL -> the answer's JSON
  curl -sf "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1"
}
# Until Prometheus has scraped convsync for a while (requests flowing).
for _ in $(seq 120); do
  n=$(query 'count_over_time(up{job="convsync"}[1m])' 2>/dev/null \
      | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)' 2>/dev/null || echo 0)
  [ "${n%.*}" -ge 20 ] && break
  sleep 1
done

fail=0
check() { # NAME OK? DETAIL
  printf '| %s | %s | %s |\n' "$1" "$2" "$3"
  [ "$2" = ok ] || fail=1
}
echo "| check | result | detail |"
echo "|---|---|---|"

curl -sf "http://127.0.0.1:$mport/metrics" > "$out/scrape.txt"
if promtool check metrics < "$out/scrape.txt" > "$out/promtool.txt" 2>&1; then
  check "promtool check metrics (live scrape)" ok "$(grep -c '^# TYPE' "$out/scrape.txt") metric families"
else
  check "promtool check metrics (live scrape)" FAIL "$(head -c 300 "$out/promtool.txt")"
fi

if (cd deploy/prometheus && promtool test rules alerts_test.yml) > "$out/rules.txt" 2>&1; then
  check "promtool test rules deploy/prometheus/alerts_test.yml" ok "7 alerts"
else
  check "promtool test rules deploy/prometheus/alerts_test.yml" FAIL "$(tail -c 300 "$out/rules.txt")"
fi

p99=$(query 'histogram_quantile(0.99, sum by (le) (rate(convsync_http_request_duration_seconds_bucket{job="convsync"}[1m])))' \
  | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "none")')
if python3 -c "import sys, math; v=float('$p99'); sys.exit(0 if math.isfinite(v) and v > 0 else 1)" 2>/dev/null; then
  check "p99 request latency from convsync's histogram" ok "${p99} s"
else
  check "p99 request latency from convsync's histogram" FAIL "$p99"
fi

# Every query of the dashboard, its variables filled in, runs.
bad=0; total=0
while IFS= read -r expr; do
  total=$((total + 1))
  q=${expr//\$job/convsync}; q=${q//\$instance/.*}
  status=$(query "$q" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null || echo error)
  [ "$status" = success ] || { bad=$((bad + 1)); echo "  dashboard query failed: $q" >&2; }
done < <(python3 -c 'import json; [print(t["expr"]) for p in json.load(open("deploy/grafana/convsync.json"))["panels"] for t in p["targets"]]')
if [ "$bad" -eq 0 ]; then check "deploy/grafana/convsync.json queries" ok "$total queries"; else check "deploy/grafana/convsync.json queries" FAIL "$bad of $total failed"; fi

exit "$fail"
