"""The import wiring as a person meets it: `persys import` (a Dagster run, coverage printed,
re-import a no-op), the inbox sensor (one run per new file, run key = sha256, nothing for a
file seen before or still being copied), `doctor` checking the `imports:` mapping."""

from __future__ import annotations

import datetime as dt
import os
import time

import dagster as dg
import yaml

from persys_pipelines import handles
from persys_pipelines.cli import main
from persys_pipelines.defs.imports.sensors import SENSOR_NAME
from persys_pipelines.lib.config import load_config
from persys_pipelines.lib.imports.run import file_sha256
from persys_pipelines_tests.import_helpers import keys_by_tier, project

CSV = "Date,Description,Amount\n20/05/2025,Coffee,-3.20\n25/05/2025,Salary,3100.00\n"


def test_persys_import_prints_coverage_and_is_idempotent(cfg, tmp_path, capsys):
    project(cfg)
    path = tmp_path / "bank statement.csv"  # a space in the path
    path.write_text(CSV)
    assert main(["import", "csv", str(path), "--as-of", "2025-06-01", "--dry-run"]) == 0
    assert "dry run" in capsys.readouterr().out
    assert not any(keys_by_tier(cfg, "transactions").values())
    assert main(["import", "csv", str(path), "--as-of", "2025-06-01"]) == 0
    out = capsys.readouterr().out
    assert "transactions: new" in out and "run " in out
    assert main(["import", "csv", str(path), "--as-of", "2025-06-01"]) == 0
    assert "already there" in capsys.readouterr().out
    assert len(keys_by_tier(cfg, "transactions")["core"]) == 2
    assert main(["status"]) == 0
    assert "Imported files" in capsys.readouterr().out


def test_inbox_sensor_one_run_per_new_file(cfg, config_path, tmp_path):
    from persys_pipelines.definitions import build_definitions

    inbox = cfg.home / "inbox"
    (inbox / "csv").mkdir(parents=True)
    ready = inbox / "csv" / "may.txt"  # the folder says the kind
    ready.write_text(CSV)
    old = time.time() - 120
    os.utime(ready, (old, old))
    (inbox / "copying.ofx").write_text("still being copied")  # changed just now: waits
    (inbox / "photo.jpg").write_bytes(b"\xff\xd8")
    defs = build_definitions(cfg, str(config_path))
    sensor = defs.get_sensor_def(SENSOR_NAME)
    with dg.instance_for_test() as instance, dg.build_sensor_context(instance=instance) as ctx:
        requests = list(sensor(ctx))
        assert [r.run_key for r in requests] == [file_sha256(ready)]
        assert requests[0].asset_selection == [dg.AssetKey(["imports", "csv"])]
        with dg.build_sensor_context(instance=instance, cursor=ctx.cursor) as again:
            second = sensor(again)
            assert [r.run_key for r in (second or [])
                    if isinstance(r, dg.RunRequest)] == [file_sha256(ready)]  # Dagster dedupes


def test_doctor_checks_the_mapping(cfg, config_path, tmp_path):
    project(cfg)
    assert all(f.ok for f in handles.doctor(cfg) if f.item.startswith("imports."))
    doc = yaml.safe_load(config_path.read_text())
    doc["imports"] = {"ofx": {"table": "transactions",
                              "columns": {"date": "occurred_on", "amount": "amount_gbp"}}}
    config_path.write_text(yaml.safe_dump(doc))
    bad = [f for f in handles.doctor(load_config(config_path)) if f.item == "imports.ofx"]
    assert any(f.status == "FAIL" and "amount_gbp" in f.detail for f in bad)
    assert any("category" in f.detail for f in bad)  # NOT NULL, no default, not mapped
    doc["imports"] = {"csv": {"table": "transactions", "columns": {"date": "note"}}}
    config_path.write_text(yaml.safe_dump(doc))
    try:
        load_config(config_path)
    except Exception as exc:  # noqa: BLE001
        assert "imports.csv.columns.date must be transactions's day_column" in str(exc)
    else:
        raise AssertionError("a day field off the day column must be refused at load")
    assert dt.date  # keeps the import used


def test_the_graph_shows_each_import_feeding_its_table(cfg, config_path):
    """Lineage in the UI: imports/<kind> → main/<table> (→ archive/<table>), per persys.yaml's
    imports: mapping, not only a description."""
    from persys_pipelines.definitions import build_definitions

    graph = build_definitions(cfg, str(config_path)).resolve_asset_graph()
    children = graph.get(dg.AssetKey(["imports", "apple_health"])).child_keys
    assert children == {dg.AssetKey(["main", cfg.imports.target("apple-health").table])}
    assert dg.AssetKey(["imports", "ofx"]) in graph.get(
        dg.AssetKey(["main", cfg.imports.target("ofx").table])).parent_keys
