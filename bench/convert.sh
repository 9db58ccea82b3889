#!/usr/bin/env bash
# Side by side on one generated LivePerson JSONL corpus (>= 200 MB):
#   convsync convert  (typed, borrowed strings, every core)
#   jq                (bench/mapping.jq: the core of the mapping)
#   serde_json        (examples/json_roundtrip.rs: a plain Value parse + serialize)
# Prints wall time, MB/s of input, CPU seconds, peak RSS and the ratios.
#
#   bash bench/convert.sh                 # 15000 conversations, ~223 MB
#   CONVERSATIONS=2000 bash bench/convert.sh
#   BASELINE=/tmp/convsync-old bash bench/convert.sh   # also another build, side by side
set -euo pipefail
cd "$(dirname "$0")/.."

conversations=${CONVERSATIONS:-15000}
runs=${RUNS:-3}
out=bench/out
mkdir -p "$out"

need() { command -v "$1" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }; }
need jq jq
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

cargo build --profile dist --quiet --bin convsync --example json_roundtrip
bin=target/dist/convsync
corpus="$out/corpus-$conversations.jsonl"
[ -s "$corpus" ] || "$bin" generate --conversations "$conversations" --messages 20 --seed 1 -o "$corpus"
bytes=$(stat -c %s "$corpus")
echo "corpus: $corpus, $conversations conversations, $((bytes / 1000000)) MB; best of $runs runs (jq: 1)"
echo

# run NAME CMD...: one timed run; keeps the best wall time per tool, with
# that run's CPU time and peak RSS. Tools take turns run by run, so a slow
# spell on this (shared, noisy) machine hits them alike.
declare -A wall cpu rss
run() {
  local name=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$out/time.$name" "$@" >/dev/null
  read -r e u s m < "$out/time.$name"
  if [ -z "${wall[$name]:-}" ] || awk "BEGIN{exit !($e < ${wall[$name]})}"; then
    wall[$name]=$e; cpu[$name]=$(awk "BEGIN{print $u + $s}"); rss[$name]=$m
  fi
}

# Every tool writes to /dev/null: this compares conversion work, not disks.
for i in $(seq "$runs"); do
  run convsync "$bin" convert --from liveperson --report none -o /dev/null "$corpus"
  run serde_json target/dist/examples/json_roundtrip "$corpus" /dev/null
  [ -z "${BASELINE:-}" ] || run baseline "$BASELINE" convert --from liveperson --report none -o /dev/null "$corpus"
  # jq takes a minute a run: once is enough to see the order of magnitude.
  [ "$i" -gt 1 ] || run jq jq -c -f bench/mapping.jq "$corpus"
done

printf '%-12s %9s %9s %9s %12s %10s %14s\n' tool "wall s" "MB/s" "CPU s" "peak RSS MiB" "vs jq" "vs serde_json"
for t in convsync ${BASELINE:+baseline} serde_json jq; do
  awk -v t="$t" -v w="${wall[$t]}" -v c="${cpu[$t]}" -v r="${rss[$t]}" -v b="$bytes" \
      -v jq="${wall[jq]}" -v sj="${wall[serde_json]}" 'BEGIN {
    printf "%-12s %9.2f %9.1f %9.2f %12.1f %9.1fx %13.2fx\n", t, w, b / 1e6 / w, c, r / 1024, jq / w, sj / w }'
done
if [ -n "${BASELINE:-}" ]; then
  awk -v a="${wall[convsync]}" -v b="${wall[baseline]}" -v ra="${rss[convsync]}" -v rb="${rss[baseline]}" 'BEGIN {
    printf "\nconvsync vs baseline (%s): %.3fx the throughput, peak RSS %.1f vs %.1f MiB\n", ENVIRON["BASELINE"], b / a, ra / 1024, rb / 1024 }'
fi
