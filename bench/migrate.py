"""Both migrations of the simulator's config, timed (see bench/migrate.sh)."""
import json, os, subprocess, sys
sys.path.insert(0, os.path.dirname(__file__))
from sync import BIN, configure, start_sim, stats  # noqa: E402

BIN = os.path.abspath(BIN)


def timed(cfg, d, *args):
    out = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", BIN, "--config", cfg, *args],
                         capture_output=True, text=True, cwd=d)
    if out.returncode != 0:
        sys.exit(f"{args} failed ({out.returncode}): " + out.stderr[-2000:])
    wall, user, sys_, rss = out.stderr.strip().splitlines()[-1].split()
    summary = json.loads(out.stdout) if out.stdout.strip().startswith("{") else {}
    return float(wall), float(user) + float(sys_), int(rss) / 1024, summary, out.stderr


def main():
    n = int(os.environ.get("CONVERSATIONS", 2000))
    sim, base, cfg, d = start_sim(n)
    configure(cfg, d, 100000, 1000)
    rows = []
    for name, label in [("liveperson-to-hubster", "LivePerson -> Hubster"),
                        ("hubster-to-liveperson-files", "Hubster -> LivePerson files")]:
        wall, cpu, rss, s, _ = timed(cfg, d, "migrate", name)
        rows.append((f"{label}, first run", wall, s["conversations"], s["written"], cpu, rss))
        wall, cpu, rss, s, _ = timed(cfg, d, "migrate", name)
        rows.append((f"{label}, run again", wall, s["conversations"], s["written"], cpu, rss))
        wall, cpu, rss, _, err = timed(cfg, d, "migrate", name, "--dry-run", "--verify")
        diffs = json.load(open(os.path.join(d, "state", f"{name}.verify.json")))["differences"]
        rows.append((f"{label}, verify ({diffs} differences)", wall, n, 0, cpu, rss))
    st = stats(base)
    sim.terminate(); sim.wait()
    print(f"{n} conversations, {st['delivered_activities']} activities delivered to the hub, "
          f"{st['duplicate_deliveries']} duplicates")
    print(f"{'case':<52} {'wall s':>7} {'conv/s':>8} {'written':>8} {'items/s':>9} {'CPU s':>6} {'RSS MiB':>8}")
    for case, wall, conv, written, cpu, rss in rows:
        print(f"{case:<52} {wall:>7.2f} {conv / wall:>8.1f} {written:>8} {written / wall:>9.1f} {cpu:>6.2f} {rss:>8.1f}")


if __name__ == "__main__":
    main()
