"""How fresh the hub is (see bench/freshness.sh)."""
import json, os, re, subprocess, sys, tempfile, time, urllib.request

BIN = "target/dist/convsync"
GROW_EVERY = 7.0


def get(url):
    return json.load(urllib.request.urlopen(url, timeout=30))


def lp_requests(stats):
    return sum(sum(by.values()) for e, by in stats["requests"].items() if e.startswith(("lp.", "csds")))


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(daemon, n, poll, seconds, quota=None):
    d = tempfile.mkdtemp(prefix="convsync-fresh-")
    cfg = os.path.join(d, "sim.toml")
    growth = int((seconds + 180) / GROW_EVERY)
    # A LivePerson quota: the hub's client is not held to it.
    extra = ["--quota", str(quota), "--quota-liveperson-only"] if quota else []
    quota = int(quota) if quota else None
    # Strict, as a brand's account: the app-key config it writes reads
    # transcripts by Messaging Interactions.
    sim = subprocess.Popen([BIN, "sim", "--strict", "--listen", "127.0.0.1:0", "--conversations", str(n), "--messages", "6",
                            "--growth", str(growth), "--grow-every", str(GROW_EVERY), "--write-config", cfg, *extra],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    base = json.loads(sim.stdout.readline())["liveperson"]["csds"]
    text = open(cfg).read()
    lp, hub = text.split("[hubster.http]", 1)
    rps = quota or 100000
    lp = re.sub(r"(?m)^requests_per_second = .*$", f"requests_per_second = {rps}", lp)
    lp = re.sub(r"(?m)^burst = .*$", f"burst = {1 if quota else 1000}", lp)
    hub = re.sub(r"(?m)^requests_per_second = .*$", "requests_per_second = 100000", hub)
    hub = re.sub(r"(?m)^burst = .*$", "burst = 1000", hub)
    text = lp + "[hubster.http]" + hub
    since = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 40 * 86400))
    text += (f'\n[sync]\nstate_dir = "{d}/state"\nsince = "{since}"\npoll_interval_secs = {poll}\n'
             f'metrics_listen = "127.0.0.1:0"\n')
    open(cfg, "w").write(text)
    p = subprocess.Popen([daemon, "--config", cfg, "run"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"{d}/state/convsync.endpoint"
    status = lambda: get(f"http://{open(endpoint).read().strip()}/status")
    # Caught up: a cycle after the first (which read the backlog) has run.
    deadline = time.time() + 1800
    while True:
        try:
            if (status().get("cycles") or 0) >= 2:
                break
        except (OSError, ValueError):
            pass
        if time.time() > deadline or p.poll() is not None:
            sys.exit(f"{daemon}: not caught up")
        time.sleep(0.5)
    mark_ms = int(time.time() * 1000)
    s0, c0, cpu0, t0 = get(base + "/sim/stats"), status()["cycles"], cpu_seconds(p.pid), time.monotonic()
    time.sleep(seconds)
    s1, c1, cpu1, t1 = get(base + "/sim/stats"), status()["cycles"], cpu_seconds(p.pid), time.monotonic()
    end_ms = int(time.time() * 1000)
    # Messages that appeared in the window, given two more polls to arrive.
    time.sleep(2 * poll + 5)
    f = get(f"{base}/sim/freshness?since_ms={mark_ms}&until_ms={end_ms}")
    p.terminate(); p.wait()
    sim.terminate(); sim.wait()
    cycles = max(1, c1 - c0)
    return dict(n=n, open=n // 4, quota=quota, f=f, cycles=c1 - c0,
                lp_per_cycle=(lp_requests(s1) - lp_requests(s0)) / cycles,
                cpu=100 * (cpu1 - cpu0) / (t1 - t0),
                violations=s1["violations_retry_after"], dups=s1["duplicate_deliveries"])


def row(name, r):
    f = r["f"]
    fmt = lambda v: "-" if v is None else f"{v:.1f}"
    q = f"{r['quota']} req/s" if r["quota"] else "none"
    return (f"| {name} | {r['n']:,} | {r['open']:,} | {q} | {f['messages']:,}/{f['expected']:,} | {fmt(f['p50'])} | "
            f"{fmt(f['p90'])} | {fmt(f['p99'])} | {fmt(f['max'])} | {r['cycles']} | {r['lp_per_cycle']:.1f} | "
            f"{r['cpu']:.1f} | {r['violations']} | {r['dups']} |")


def main():
    sizes = [int(s) for s in os.environ.get("SIZES", "1000 10000").split()]
    seconds = float(os.environ.get("MEASURE_SECS", "180"))
    poll = float(os.environ.get("POLL", "30"))
    quota = os.environ.get("LP_QUOTA", "20")
    daemons = [("this", BIN)]
    if os.environ.get("BASELINE"):
        daemons.append(("baseline", os.environ["BASELINE"]))
    print(f"poll {poll:g} s; measured {seconds:g} s after catching up; every fourth conversation open, "
          f"gaining a message every {GROW_EVERY:g} s; freshness in seconds (hub receipt - LivePerson time)\n")
    print("| daemon | conversations | open | LP quota | messages reached/appeared | p50 | p90 | p99 | max | cycles | "
          "LP requests per cycle | CPU % of a core | Retry-After violations | duplicates |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in sizes:
        for name, daemon in daemons:
            print(row(name, measure(daemon, n, poll, seconds)), flush=True)
    # LivePerson's quota (the simulator does not hold the hub to it).
    if quota and quota != "0":
        n = int(os.environ.get("QUOTA_SIZE", "10000"))
        for name, daemon in daemons:
            print(row(name, measure(daemon, n, poll, seconds, quota=float(quota))), flush=True)


if __name__ == "__main__":
    main()
