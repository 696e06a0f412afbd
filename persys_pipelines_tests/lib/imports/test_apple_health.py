"""Apple Health: a generated export of the documented shape into a project with the sample
schema, routed by age; imported again it adds nothing."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.imports.synthetic import write_export
from persys_pipelines_tests.import_helpers import TODAY, keys_by_tier, project, run_import


def test_export_lands_in_the_tier_each_day_belongs_in(cfg, tmp_path):
    project(cfg)
    path = tmp_path / "export.xml"
    written = write_export(path, 20_000, last_day=TODAY - dt.timedelta(days=1), days=800)
    report = run_import(cfg, "apple-health", path)
    assert report.tally.records == written
    keys = keys_by_tier(cfg, "health_metrics")
    every = keys["core"] + keys["main"] + keys["archive"]
    assert len(every) == len(set(every))  # each row in exactly one tier
    d = report.delivered
    assert sum(d.new.values()) == len(every) > 0
    assert d.repeated["health_metrics"] >= 2  # blood pressure: correlation children once
    assert all(keys[t] for t in ("core", "main", "archive")), {t: len(v) for t, v in keys.items()}
    again = run_import(cfg, "apple-health", path)
    assert sum(again.delivered.new.values()) == 0
    assert Counter(keys_by_tier(cfg, "health_metrics")["archive"]) == Counter(keys["archive"])
    with resolve_tier(cfg, "main").connect() as conn:  # persys's record of it is private
        secured, acl = conn.execute("select relrowsecurity, relacl::text from pg_class "
                                    "where oid = 'persys.imports'::regclass").fetchone()
        ledger = conn.execute("select to_tier, count(*), sum(rows) from persys.ledger where "
                              "route = 'import' and state = 'done' group by 1").fetchall()
    assert secured and "=r" not in (acl or "")  # no grant to PUBLIC (`=r/owner`)
    # archive-bound rows went straight into files (lib/moves/import_archive.py), not via main
    assert {to: n for to, _, n in ledger} == {t: len(keys[t]) for t in ("core", "main",
                                                                       "archive")}
