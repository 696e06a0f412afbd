"""Import a synthetic Apple Health export of the documented shape into an empty project with
the packaged policies, against a bare lxml iterparse pass over the same file:

    .venv/bin/python bench/import.py [--records 2000000]

The export (lib/imports/synthetic.py): Records of many types grouped by type, MetadataEntry
children, HRV records with per-beat lists, Correlations whose children are also top-level
Records, Workouts with WorkoutStatistics/WorkoutEvent/WorkoutRoute, ActivitySummaries, a
ClinicalRecord; ~1,900 records a day, ending yesterday (so about a month is in core's window).
- baseline: `etree.iterparse(path, tag="Record")` that only counts records (and clears each
  element and its finished siblings, as any pass over a multi-GB file must);
- ours: `persys import`'s code (lib/imports/run.import_file: sha256, parse, spool, deliver
  into core / main / archive, record) in a child process, whose peak RSS is measured with
  the second reader's (lib/imports/parts.py: an export of 64 MB or more is read by two
  processes) as the largest sum of both sampled every 20 ms.
Last lines: import_peak_rss_mb, core_growth_mb, import_vs_bare_iterparse (records per second
of the import over those of the bare pass; goal >= 0.5).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

CHILD = r"""
import json, os, resource, sys, threading, time
from pathlib import Path

def tree_rss_mb():
    # this process and its children (the second reader of a big export), by /proc
    me = os.getpid()
    pids = [str(me)]
    for task in os.listdir(f"/proc/{me}/task"):
        try:
            pids += open(f"/proc/{me}/task/{task}/children").read().split()
        except OSError:
            pass
    kb = 0
    for pid in pids:
        try:
            kb += next(int(l.split()[1]) for l in open(f"/proc/{pid}/status")
                       if l.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return kb / 1024

tree = [0.0]
stop = threading.Event()
def sample():
    while not stop.wait(0.02):
        tree[0] = max(tree[0], tree_rss_mb())
threading.Thread(target=sample, daemon=True).start()
from persys_pipelines import handles
from persys_pipelines.lib.config import load_config
from persys_pipelines.handles import resolve_tier

cfg = load_config(sys.argv[1])
core = resolve_tier(cfg, "core")
before = core.size_bytes()
t0 = time.perf_counter()
report = handles.import_file(cfg, "apple-health", Path(sys.argv[2]))
seconds = time.perf_counter() - t0
stop.set()
with core.connect(autocommit=True) as conn:
    conn.execute("checkpoint")
new = {}
for (table, tier), n in report.delivered.new.items():
    new[tier] = new.get(tier, 0) + n
print(json.dumps({"records": report.tally.records, "seconds": seconds, "new": new,
                  "phases": report.seconds, "core_before": before,
                  "core_after": core.size_bytes(),
                  "repeated": sum(report.delivered.repeated.values()),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "reader_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                  "tree_rss_mb": tree[0]}))
"""


def bare_iterparse(path: Path) -> tuple[int, float]:
    from lxml import etree

    t0 = time.perf_counter()
    n = 0
    for _, el in etree.iterparse(str(path), tag="Record", events=("end",), huge_tree=True):
        n += 1
        el.clear(keep_tail=True)
        while el.getprevious() is not None:
            del el.getparent()[0]
    return n, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    from persys_pipelines.handles import setup_tiers
    from persys_pipelines.lib.config import load_config
    from persys_pipelines.lib.imports.synthetic import write_export
    from persys_pipelines.lib.pg.tiers import stop_embedded

    work = Path(tempfile.mkdtemp(prefix="persys-bench-import-"))
    try:
        xml = work / "export.xml"
        t0 = time.perf_counter()
        written = write_export(xml, args.records, last_day=dt.date.today() - dt.timedelta(days=1))
        print(f"export: {written:,} records, {xml.stat().st_size / 1e6:,.0f} MB "
              f"(written in {time.perf_counter() - t0:.0f} s)")
        doc = yaml.safe_load((Path(__file__).parents[1] / "persys_pipelines" /
                              "default_persys.yaml").read_text())
        doc["home"] = str(work / "home")
        config = work / "persys.yaml"
        config.write_text(yaml.safe_dump(doc))
        setup_tiers(load_config(config))
        n, bare_s = bare_iterparse(xml)
        print(f"bare iterparse: {n:,} records in {bare_s:.1f} s = {n / bare_s:,.0f}/s")
        out = subprocess.run([sys.executable, "-c", CHILD, str(config), str(xml)],
                             capture_output=True, text=True, check=False)
        if out.returncode:
            sys.exit(out.stderr[-3000:])
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rate = r["records"] / r["seconds"]
        print(f"import: {r['records']:,} records in {r['seconds']:.1f} s = {rate:,.0f}/s "
              f"({', '.join(f'{k} {v:.1f} s' for k, v in r['phases'].items())})")
        print("rows per tier: " + ", ".join(f"{t} {r['new'].get(t, 0):,}"
                                            for t in ("core", "main", "archive"))
              + f"; {r['repeated']:,} repeats (correlation children) written once")
        print(f"bare_iterparse_records_per_s: {n / bare_s:.0f}")
        print(f"import_records_per_s: {rate:.0f}")
        print(f"memory: import process peak {r['rss_mb']:.0f} MB, second reader peak "
              f"{r['reader_rss_mb']:.0f} MB, both together at most {r['tree_rss_mb']:.0f} MB "
              "(sampled every 20 ms)")
        print(f"import_peak_rss_mb: {max(r['rss_mb'], r['tree_rss_mb']):.0f}")
        print(f"core_growth_mb: {(r['core_after'] - r['core_before']) / 1e6:.1f}")
        print(f"import_vs_bare_iterparse: {rate / (n / bare_s):.2f}")
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"(bench process peak RSS {own:.0f} MB)", file=sys.stderr)
    finally:
        stop_embedded(work / "home")
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
