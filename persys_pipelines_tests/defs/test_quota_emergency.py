"""The issue's done-criterion, end to end: a small core quota, sample data growing past 80% and
90%, the quota sensor's ONE emergency request executed as the real lifecycle job through
Dagster, space really back under 80%, exactly one warning and one critical on a fake Telegram.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import yaml

from persys_pipelines.defs import lifecycle, monitoring
from persys_pipelines.defs.monitoring.quota import EMERGENCY_TAG, core_quota_sensor
from persys_pipelines.defs.resources import resources
from persys_pipelines.handles import resolve_tier, setup_tiers
from persys_pipelines.lib import sample_data
from persys_pipelines.lib.calendar import months_between
from persys_pipelines.lib.config import load_config
from persys_pipelines.lib.pg import partitions as space
from persys_pipelines_tests.defs.test_monitoring import configure, tick
from persys_pipelines_tests.lifecycle_helpers import assert_conserved, rows_text
from persys_pipelines_tests.monitoring_fakes import fake_telegram

QUOTA_MB = 16  # an empty core is ~7.5 MB; sample data adds ~26 kB a day
SAMPLE_TABLES = ("journal_entries", "health_metrics", "tasks", "transactions", "shadow_work")


def grow(cfg, last: dt.date, days: int, seed: int) -> None:
    """A person's app writing `days` more days (ending on `last`) into core."""
    core = resolve_tier(cfg, "core")
    with core.connect() as conn:
        for table, policy in cfg.tables.items():
            space.ensure_months(conn, table, policy, cfg.timezone,
                                months_between(last - dt.timedelta(days=days), last))
        conn.commit()
        sample_data.load(conn, sample_data.generate(days, seed, last, cfg.zone))
        conn.commit()


def core_pct(cfg) -> float:
    return 100 * resolve_tier(cfg, "core").size_bytes() / (QUOTA_MB * 1024 * 1024)


def test_crossing_90_pct_runs_one_emergency_migration_back_under_80(config_path):
    doc = yaml.safe_load(config_path.read_text())
    doc["tiers"]["core"]["quota_mb"] = QUOTA_MB
    config_path.write_text(yaml.safe_dump(doc))
    cfg = load_config(config_path)
    setup_tiers(cfg)
    today = cfg.today()
    core, main = resolve_tier(cfg, "core"), resolve_tier(cfg, "main")
    sensor = core_quota_sensor(lifecycle.schedules.JOB_NAME)
    with fake_telegram() as tg:
        configure(config_path, tg.base_url)
        grow(cfg, today - dt.timedelta(days=145), 150, seed=1)
        assert 60 < core_pct(cfg) < 80
        cursor, requests = tick(sensor, config_path, None)
        assert requests == [] and tg.messages == []

        grow(cfg, today - dt.timedelta(days=50), 95, seed=2)
        assert 80 <= core_pct(cfg) < 90
        cursor, requests = tick(sensor, config_path, cursor)
        assert requests == [] and len(tg.messages) == 1

        grow(cfg, today, 50, seed=3)
        assert core_pct(cfg) >= 90
        size_before = core.size_bytes()
        before = {t: rows_text(core, t) for t in SAMPLE_TABLES}
        cursor, requests = tick(sensor, config_path, cursor)
        cursor, again = tick(sensor, config_path, cursor)  # still critical: no second request
        assert again == [] and [r.run_key for r in requests] == ["emergency-core-1"]
        [request] = requests
        cutoff = dt.date.fromisoformat(request.tags[EMERGENCY_TAG])
        assert cutoff < today - dt.timedelta(days=30)  # ahead of every table's policy

        result = run_request(cfg, config_path, request)
        assert result.success
        assert core_pct(cfg) < 80, f"core still at {core_pct(cfg):.1f}% after the emergency"
        assert size_before - core.size_bytes() > 2 * 1024 * 1024  # the bytes really came back
        for table, rows in before.items():  # nothing lost, nothing doubled
            assert_conserved(core, main, table, rows, ["id"])
        with core.connect() as conn:  # exactly the days before the cut-off left core
            oldest = conn.execute("select min(measured_at) from health_metrics").fetchone()[0]
        assert oldest.astimezone(cfg.zone).date() == cutoff
        dropped = sum(mat.metadata["partitions_dropped"].value
                      for mat in result.asset_materializations_for_node("main__health_metrics"))
        assert dropped >= 1  # the bytes came back through dropped month partitions

        for _ in range(3):  # later ticks: recovered, nothing more sent or requested
            cursor, requests = tick(sensor, config_path, cursor)
            assert requests == []
        texts = [m["text"].splitlines()[0] for m in tg.messages]
        assert len(texts) == 2 and texts[0].startswith("⚠️") and texts[1].startswith("🚨")


def run_request(cfg, config_path, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    """Execute the sensor's request as the daemon would: the lifecycle job, its tags."""
    defs = dg.Definitions.merge(lifecycle.definitions(cfg), monitoring.definitions(cfg),
                                dg.Definitions(resources=resources(str(config_path))))
    job = defs.resolve_job_def(request.job_name)
    with dg.DagsterInstance.ephemeral() as instance:
        return job.execute_in_process(instance=instance, tags=request.tags,
                                      raise_on_error=False)

