"""Nothing persys creates or adopts is readable by Supabase's client roles, and `persys doctor`
says so: on the Supabase-shaped fixture (its default privileges grant every new table in
public to anon and authenticated), after `persys setup`, a lifecycle run and `adopt
partition`, anon asking for persys's tables, their partitions, the ledger, the sample table
or the adopted table's partitions is refused; doctor passes; each grant a person (or a
dashboard click) adds afterwards is a FAIL naming it. Backups on the data's disk are a WARN."""

from __future__ import annotations

import datetime as dt
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from persys_pipelines.cli import main
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.config import load_config
from persys_pipelines.lib.monitoring.doctor import WARN, privacy
from persys_pipelines.lib.monitoring.doctor.database import TierProbe
from persys_pipelines.lib.pg.tiers import connect
from persys_pipelines_tests.conftest import write_config
from persys_pipelines_tests.supabase_fixture import DAILY_SOURCES, create_supabase_core

TABLES = {"journal": {"day_column": "written_at", "core_days": 30},
          "journal_entries": {"day_column": "entry_date", "core_days": 30},
          "daily_summaries": {"day_column": "day", "core_days": 30}}


def doctor(path: Path, capsys) -> tuple[int, list[str]]:
    code = main(["doctor", "--config", str(path)])
    return code, capsys.readouterr().out.splitlines()


def refused_to_anon(dsn: str, relation: str) -> bool:
    with connect(dsn) as conn:
        conn.execute("set role anon")
        try:
            conn.execute(f"select * from {relation} limit 1")  # noqa: S608 (our names)
        except psycopg.errors.InsufficientPrivilege:
            return True
        return False


def test_anon_reads_nothing_persys_made_and_doctor_fails_on_each_grant_added(
        tmp_path, tier_dsns, capsys, monkeypatch):
    yesterday = dt.datetime.now(ZoneInfo("Europe/London")).date() - dt.timedelta(days=1)
    create_supabase_core(tier_dsns["core"], days=50, as_of=yesterday)
    path = write_config(tmp_path / "persys.yaml", tier_dsns, tmp_path / "home", tables=TABLES,
                        daily={"sources": DAILY_SOURCES}, voice={"engine": "local"})
    monkeypatch.setenv("PERSYS_CONFIG", str(path))
    assert main(["setup"]) == 0
    assert main(["lifecycle", "run"]) == 0
    assert main(["adopt", "partition", "journal", "--yes"]) == 0
    capsys.readouterr()
    month = f"p{yesterday:%Y_%m}"
    core, main_dsn = tier_dsns["core"], tier_dsns["main"]
    with connect(core) as conn:
        made = [r[0] for r in conn.execute(
            """select n.nspname || '.' || c.relname from pg_class c
                 join pg_namespace n on n.oid = c.relnamespace
                where c.relkind in ('r', 'p') and (n.nspname = 'persys' or c.relname ~
                      '^(journal|journal_entries)_p(default|[0-9]{4}_[0-9]{2})$'
                      or c.relname = 'journal_entries') order by 1""")]
    assert {"persys.daily_summaries", "persys.daily_summaries_pdefault",
            f"public.journal_{month}", "public.journal_pdefault", "public.journal_entries",
            "public.journal_entries_pdefault"} <= set(made), made
    for relation in made:
        assert refused_to_anon(core, relation), relation
    for relation in ("persys.ledger", "persys.daily_summaries", "journal"):
        assert refused_to_anon(main_dsn, relation), relation
    with connect(core) as conn:  # the adopted table itself keeps the person's grants and RLS
        assert conn.execute("select has_table_privilege('anon', 'journal', 'select'), "
                            "relrowsecurity from pg_class where oid = 'journal'::regclass"
                            ).fetchone() == (True, True)

    code, out = doctor(path, capsys)
    assert code == 0, out
    assert not [x for x in out if x.startswith("FAIL")], out
    assert any(x.startswith("ok    core: privacy  (nothing persys made is readable by "
                            "anon, authenticated") for x in out), out
    assert any(x.startswith("ok    main: privacy") for x in out), out

    with connect(core) as conn:
        conn.execute("grant select on persys.daily_summaries to anon")
    code, out = doctor(path, capsys)
    assert code == 1
    assert ("FAIL  core: privacy persys.daily_summaries  (anon may SELECT (one `grant usage "
            "on schema persys` away from readable); revoke it: `revoke all on "
            "persys.daily_summaries from anon`)") in out, out
    with connect(core) as conn:
        conn.execute("grant usage on schema persys to anon")
        conn.execute(f"grant select on journal_{month} to authenticated")
        conn.execute("alter table journal_entries disable row level security")
    code, out = doctor(path, capsys)
    fails = [x for x in out if x.startswith("FAIL")]
    assert code == 1 and len(fails) == 4, fails
    assert any("schema persys  (anon has USAGE on it" in x for x in fails)
    assert any("persys.daily_summaries  (anon may SELECT (readable now" in x for x in fails)
    assert any(f"core: privacy public.journal_{month}  (authenticated may SELECT" in x
               for x in fails)
    assert any("core: privacy public.journal_entries  (row level security is off" in x
               for x in fails)


def test_backups_on_the_datas_disk_are_a_warning(tmp_path, tier_dsns):
    def backup_line(**archive) -> tuple[str, str]:
        cfg = load_config(write_config(
            tmp_path / "persys.yaml", tier_dsns, tmp_path / "home",
            tiers={"core": {"dsn": tier_dsns["core"]}, "main": {"dsn": tier_dsns["main"]},
                   "archive": {"url": f"file://{tmp_path / 'archive'}", **archive}}))
        probe = TierProbe(partial(resolve_tier, cfg))
        (finding,) = privacy.backup_checks(probe, cfg.tiers.archive, cfg.home,
                                           cfg.tiers.main.dsn is None)
        return finding.status, finding.detail

    status, detail = backup_line()
    assert status == WARN and "tiers.archive.backup_url is not set" in detail
    status, detail = backup_line(backup_url=f"file://{tmp_path / 'backups'}")
    assert status == WARN and "is on the same disk as main's data" in detail
    status, detail = backup_line(backup_url="s3://my-backups/persys")
    assert status == "ok" and "apart from the data's disk" in detail
