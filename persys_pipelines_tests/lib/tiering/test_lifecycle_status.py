"""`persys status` shows what is due and how much of core the next run gives back."""

from __future__ import annotations

import datetime as dt

from persys_pipelines import handles
from persys_pipelines import handles as setup_lib
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.monitoring import status

AS_OF = dt.date(2024, 6, 15)


def test_status_reports_due_rows_and_reclaimable_bytes(cfg):
    setup_lib.setup_tiers(cfg)
    setup_lib.load_sample_data(cfg, days=120, seed=2, as_of=AS_OF)
    doc = handles.status(cfg, AS_OF)["lifecycle"]
    health = doc["tables"]["health_metrics"]
    assert health["cutoff"] == "2024-05-16" and health["days"] == 89
    assert health["reclaimable_bytes"] > 0 and doc["reclaimable_bytes"] >= health[
        "reclaimable_bytes"]
    assert "of core reclaimable" in status.render(handles.status(cfg, AS_OF))
    core, main = resolve_tier(cfg, "core"), resolve_tier(cfg, "main")
    returned = handles.run_table(cfg, core, main, "health_metrics", AS_OF).bytes_returned
    assert returned >= health["reclaimable_bytes"] * 0.5
    after = handles.status(cfg, AS_OF)["lifecycle"]["tables"]["health_metrics"]
    assert after["days"] == 0 and after["reclaimable_bytes"] == 0
