"""Writes to a strict, lagging Hubster (see bench/hubster.sh): the daemon, a
backfill and a LivePerson -> Hubster migration, five seeds each, against
`convsync sim --strict --activities-lag-ms 2000 --activities-cap 50
--fault-timeout-late 0.05 --fault-reset 0.05`; each run then verified."""
import concurrent.futures, json, os, re, subprocess, sys, tempfile, time, urllib.request

BIN = "target/dist/convsync"
CONVERSATIONS = int(os.environ.get("CONVERSATIONS", "6"))
SEEDS = range(1, int(os.environ.get("SEEDS", "5")) + 1)
# The simulator's conversations started within the last 30 days.
SINCE = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 60 * 86400))
FLAGS = ["--strict", "--activities-lag-ms", "2000", "--activities-cap", "50",
         "--fault-timeout-late", "0.05", "--fault-reset", "0.05",
         # A late post completes 1.5 s after it arrives; the client waits 1 s.
         "--timeout-delay", "1.5"]


def run(mode, seed):
    d = tempfile.mkdtemp(prefix="convsync-bench-hub-")
    cfg = os.path.join(d, "sim.toml")
    sim = subprocess.Popen([BIN, "sim", "--listen", "127.0.0.1:0", "--conversations", str(CONVERSATIONS),
                            "--messages", "45", "--growth", "0", "--seed", str(seed), "--write-config", cfg,
                            *FLAGS], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    base = json.loads(sim.stdout.readline())["liveperson"]["csds"]
    text = open(cfg).read()
    text = re.sub(r"(?m)^requests_per_second = .*$", "requests_per_second = 1000", text)
    text = text.replace("[hubster.http]\n", "[hubster.http]\ntimeout_secs = 1\nconnect_timeout_secs = 1\n")
    text += (f'\n[sync]\nstate_dir = "{d}/state"\nsince = "{SINCE}"\npoll_interval_secs = 0.2\n'
             'metrics_listen = ""\n')
    open(cfg, "w").write(text)
    args = {"daemon": ["run", "--until-idle"], "backfill": ["backfill", "--since", SINCE],
            "migration": ["migrate", "liveperson-to-hubster"]}[mode]
    t0 = time.monotonic()
    job = subprocess.run([BIN, "--config", cfg, *args], capture_output=True, text=True)
    wall = time.monotonic() - t0
    verify = subprocess.run([BIN, "--config", cfg, "verify", "--report", os.path.join(d, "v.json")],
                            capture_output=True, text=True)
    s = json.load(urllib.request.urlopen(base + "/sim/stats"))
    sim.terminate(); sim.wait()
    report = json.load(open(os.path.join(d, "v.json"))) if os.path.exists(os.path.join(d, "v.json")) else {}
    refused = sum(n for e, by in s["requests"].items() if e.startswith("hubster.inbound")
                  for st, n in by.items() if st == "400")
    return dict(mode=mode, seed=seed, exit=job.returncode, wall=wall, delivered=s["delivered_activities"],
                dups=s["duplicate_deliveries"], refused=refused,
                late=s["faults"].get("timeout_late", 0), resets=s["faults"].get("reset", 0),
                differences=report.get("differences", "?"), verify_exit=verify.returncode)


def main():
    subprocess.run(["cargo", "build", "--profile", "dist", "--quiet", "--bin", "convsync"], check=True)
    runs = [(m, s) for m in ("daemon", "backfill", "migration") for s in SEEDS]
    with concurrent.futures.ThreadPoolExecutor(max_workers=5) as pool:
        rows = list(pool.map(lambda a: run(*a), runs))
    print(f"{CONVERSATIONS} conversations a run; sim {' '.join(FLAGS)}")
    print(f"{'job':<10} {'seed':>4} {'exit':>4} {'wall s':>7} {'delivered':>9} {'dups':>5} {'ENG005002':>9} "
          f"{'late':>5} {'resets':>6} {'verify diffs':>12}")
    for r in rows:
        print(f"{r['mode']:<10} {r['seed']:>4} {r['exit']:>4} {r['wall']:>7.1f} {r['delivered']:>9} {r['dups']:>5} "
              f"{r['refused']:>9} {r['late']:>5} {r['resets']:>6} {r['differences']:>12}")
    bad = [r for r in rows if r["exit"] != 0 or r["dups"] or r["refused"] or r["differences"] != 0]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
