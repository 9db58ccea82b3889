"""The daemon against the simulator (see bench/sync.sh)."""
import json, os, re, signal, subprocess, sys, tempfile, time, urllib.request

BIN = "target/dist/convsync"


def start_sim(conversations, extra=()):
    d = tempfile.mkdtemp(prefix="convsync-bench-")
    cfg = os.path.join(d, "sim.toml")
    p = subprocess.Popen([BIN, "sim", "--listen", "127.0.0.1:0", "--conversations", str(conversations),
                          "--messages", "6", "--growth", "0", "--write-config", cfg, *extra],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ready = json.loads(p.stdout.readline())
    return p, ready["liveperson"]["csds"], cfg, d


def configure(cfg, d, rps, burst, concurrency=16, state=None, extra=""):
    text = open(cfg).read()
    text = re.sub(r"(?m)^requests_per_second = .*$", f"requests_per_second = {rps}", text)
    text = re.sub(r"(?m)^burst = .*$", f"burst = {burst}\nmax_concurrency = {concurrency}", text)
    # The simulator's conversations started within the last 30 days.
    since = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 40 * 86400))
    text += (f'\n[sync]\nstate_dir = "{state or d + "/state"}"\nsince = "{since}"\npoll_interval_secs = 1\n'
             f'metrics_listen = "127.0.0.1:0"\nconcurrency = {concurrency}\n{extra}')
    open(cfg, "w").write(text)


def store_bytes(d):
    return os.path.getsize(f"{d}/state/convsync.redb")


def stats(base):
    return json.load(urllib.request.urlopen(base + "/sim/stats"))


def timed_run(cfg, daemon=BIN):
    out = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", daemon, "--config", cfg, "run", "--until-idle"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("daemon failed: " + out.stderr[-2000:])
    wall, user, sys_, rss = out.stderr.strip().splitlines()[-1].split()
    return float(wall), float(user) + float(sys_), int(rss) / 1024


def throughput(n, daemon=BIN, closed=False):
    """`closed`: every conversation closed (aged a day), as most of a
    store's conversations are; otherwise one in four is still open."""
    sim, base, cfg, d = start_sim(n, ["--age-days", "1"] if closed else [])
    configure(cfg, d, 100000, 1000)
    wall, cpu, rss = timed_run(cfg, daemon)
    s = stats(base)
    sim.terminate(); sim.wait()
    size = store_bytes(d)
    return dict(case=f"{n} {'closed ' if closed else ''}conversations, no quota", wall=wall, conv=n / wall,
                acts=s["delivered_activities"] / wall, cpu=cpu, rss=rss, delivered=s["delivered_activities"],
                dups=s["duplicate_deliveries"], bytes=size, per_conv=size / n,
                hub_reads=sum(s["requests"].get("hubster.get_activities", {}).values()),
                per_act=size / max(1, s["delivered_activities"]))


def months(count, per_month, retention_days):
    """The store over simulated months: each month a simulator of
    `per_month` conversations from that month (aged to it), a backfill of
    the month, then the daemon's prune as of the month's end; one store
    throughout. Its size should stay flat once the retention is full."""
    state = tempfile.mkdtemp(prefix="convsync-months-")
    day = 86400
    rows = []
    for m in range(count):
        back = (count - 1 - m) * 30
        sim, base, cfg, d = start_sim(per_month, ["--age-days", str(back), "--seed", str(m + 1)])
        configure(cfg, d, 100000, 1000, state=state, extra=f"retention_days = {retention_days}\n")
        now = time.time() - back * day
        since, until = str(int((now - 31 * day) * 1000)), str(int(now * 1000))
        for args in (["backfill", "--since", since, "--until", until], ["prune", "--as-of", until]):
            out = subprocess.run([BIN, "--config", cfg, *args], capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(f"{args[0]} failed: " + out.stderr[-2000:])
            if os.environ.get("DEBUG"):
                print(args[0], out.stdout.strip()[-600:], file=sys.stderr)
        st = json.loads(subprocess.run([BIN, "--config", cfg, "status", "--json"], capture_output=True,
                                       text=True, check=True).stdout)
        s = stats(base)
        sim.terminate(); sim.wait()
        rows.append(dict(month=m + 1, held=st["conversations"], bytes=os.path.getsize(f"{state}/convsync.redb"),
                         compacted=st["last_prune"]["bytes_after"], dups=s["duplicate_deliveries"]))
    return rows


def quota(n, rate, seconds):
    """Steady state: a backlog bigger than `seconds` can clear, the daemon
    stopped (SIGTERM) after `seconds`; utilization = requests the busiest
    upstream made / (time x rate)."""
    sim, base, cfg, d = start_sim(n, ["--quota", str(rate)])
    # One quota per upstream in the daemon, one bucket per client in the
    # simulator: each upstream gets the full rate.
    configure(cfg, d, rate, 1, concurrency=4)
    t0 = time.monotonic()
    daemon = subprocess.Popen(["/usr/bin/time", "-f", "%e %U %S %M", BIN, "--config", cfg, "run"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(seconds)
    s = stats(base)
    wall = time.monotonic() - t0
    # SIGTERM to the daemon itself (the child of /usr/bin/time).
    subprocess.run(["pkill", "-TERM", "-P", str(daemon.pid)])
    err = daemon.communicate()[1]
    _, user, sys_, rss = err.strip().splitlines()[-1].split()
    cpu = float(user) + float(sys_)
    sim.terminate(); sim.wait()
    reqs = {}
    for endpoint, by_status in s["requests"].items():
        up = "liveperson" if endpoint.startswith(("lp.", "csds")) else "hubster"
        reqs[up] = reqs.get(up, 0) + sum(by_status.values())
    busiest = max(reqs.values())
    return dict(case=f"{n} conversations, quota {rate}/s, {seconds} s", wall=wall, util=busiest / (wall * rate),
                cpu=cpu, cpu_pct=100 * cpu / wall, rss=int(rss) / 1024, violations=s["violations_quota"],
                delivered=s["delivered_activities"])


def restart_latency(n):
    sim, base, cfg, d = start_sim(n)
    configure(cfg, d, 100000, 1000)
    first = subprocess.Popen([BIN, "--config", cfg, "run"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.4)
    first.send_signal(signal.SIGKILL); first.wait()
    before = stats(base)["delivered_activities"]
    t0 = time.monotonic()
    second = subprocess.Popen([BIN, "--config", cfg, "run"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while stats(base)["delivered_activities"] == before:
        if time.monotonic() - t0 > 30:
            sys.exit("no delivery after restart")
        time.sleep(0.005)
    latency = time.monotonic() - t0
    second.send_signal(signal.SIGTERM); second.wait()
    sim.terminate(); sim.wait()
    return latency


def compare(baseline, small, large):
    """This build's daemon and another's, side by side on the same
    simulator (runs alternate, so a slow spell hits both; PAIRS of them,
    the best CPU of each build kept)."""
    pairs = int(os.environ.get("PAIRS", 2))
    print(f"{'case':<34} {'build':<9} {'wall s':>8} {'CPU s':>7} {'RSS MiB':>8} {'delivered':>10} {'dups':>5} {'hub reads':>9}")
    for n in (small, large):
        rows = {}
        for name, daemon in [("this", BIN), ("baseline", baseline)] * pairs:
            r = throughput(n, daemon)
            best = rows.get(name)
            if best is None or r["cpu"] < best["cpu"]:
                rows[name] = r
        for name in ("this", "baseline"):
            r = rows[name]
            print(f"{r['case']:<34} {name:<9} {r['wall']:>8.2f} {r['cpu']:>7.2f} {r['rss']:>8.1f} {r['delivered']:>10} {r['dups']:>5} {r['hub_reads']:>9}")
        t, b = rows["this"], rows["baseline"]
        print(f"{'':<34} {'ratio':<9} {t['wall'] / b['wall']:>8.3f} {t['cpu'] / b['cpu']:>7.3f} {t['rss'] / b['rss']:>8.3f}")


def main():
    small, large = int(os.environ.get("SMALL", 1000)), int(os.environ.get("LARGE", 10000))
    if os.environ.get("BASELINE"):
        compare(os.environ["BASELINE"], small, large)
        return
    rate = int(os.environ.get("RATE", 50))
    rows = [throughput(small), throughput(large), throughput(small, closed=True), throughput(large, closed=True)]
    print(f"{'case':<41} {'wall s':>8} {'conv/s':>8} {'act/s':>9} {'CPU s':>7} {'RSS MiB':>8} {'delivered':>10} {'dups':>5}"
          f" {'store B':>10} {'B/conv':>7} {'B/act':>6}")
    for r in rows:
        print(f"{r['case']:<41} {r['wall']:>8.2f} {r['conv']:>8.1f} {r['acts']:>9.1f} {r['cpu']:>7.2f} {r['rss']:>8.1f} {r['delivered']:>10} {r['dups']:>5}"
              f" {r['bytes']:>10} {r['per_conv']:>7.0f} {r['per_act']:>6.1f}")
    print(f"RSS at {large} / RSS at {small}: {rows[1]['rss'] / rows[0]['rss']:.2f} (target <= 1.5)")
    worst = max(r["per_conv"] for r in rows[2:])
    print(f"store bytes per closed conversation: {worst:.0f} at most (target <= 500)")
    n, per, keep = int(os.environ.get("MONTHS", 8)), int(os.environ.get("PER_MONTH", 1000)), 60
    print(f"\n{n} simulated months of {per} conversations, retention_days = {keep}, one store, pruned monthly")
    print("(after prune: the file the prune left; file: after the prune recorded itself, which may double a")
    print(" compacted file: redb grows files by doubling)")
    print(f"{'month':>5} {'held':>6} {'after prune B':>14} {'file B':>10} {'dups':>5}")
    for r in months(n, per, keep):
        print(f"{r['month']:>5} {r['held']:>6} {r['compacted']:>14} {r['bytes']:>10} {r['dups']:>5}")
    q = quota(int(os.environ.get("QUOTA_CONVERSATIONS", 1000)), rate, float(os.environ.get("QUOTA_SECONDS", 30)))
    print(f"\n{'case':<40} {'wall s':>8} {'utilization':>12} {'CPU s':>7} {'CPU %':>6} {'quota violations':>17}")
    print(f"{q['case']:<40} {q['wall']:>8.2f} {100 * q['util']:>11.1f}% {q['cpu']:>7.2f} {q['cpu_pct']:>6.2f} {q['violations']:>17}")
    lat = restart_latency(int(os.environ.get("RESTART_CONVERSATIONS", 3000)))
    print(f"\nrestart after SIGKILL to first delivery: {lat * 1000:.0f} ms (target < 1000 ms)")


if __name__ == "__main__":
    main()
