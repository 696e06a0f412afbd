"""The first hour, as a person with a Supabase project lives it: `make demo` (the demo, in its
own home), `persys init` (their persys.yaml, from their tables), `persys doctor`, `persys up`;
then, in a real browser, their own tables and metrics in the Dagster UI: no pop-up, the core
tables observed, the catch-up run's summaries and briefing made from their metrics, and the
moving schedules paused until they say so.

Screenshots go to test-artifacts/ (first-hour-*.png); docs/img/ holds copies for the README.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml
from playwright.sync_api import expect, sync_playwright

from persys_pipelines.defs import go_ahead
from persys_pipelines.lib.pg.tiers import connect
from persys_pipelines_tests.e2e.conftest import free_port
from persys_pipelines_tests.e2e.test_ui import CHROMIUM_ARGS, no_first_visit_dialog
from persys_pipelines_tests.supabase_fixture import create_supabase_core

pytestmark = pytest.mark.e2e

RUNS = """{ runsOrError { ... on Runs { results { runId status
  tags { key value } assetSelection { path } } } } }"""
ASSETS = """{ assetNodes { assetKey { path } } }"""


def persys(*args: str, cwd: Path, env: dict, timeout: float = 600
           ) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "persys_pipelines.cli", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=timeout)
    print(f"$ persys {' '.join(args)}\n{done.stdout}{done.stderr}")  # in the test's log
    return done


def graphql(url: str, query: str) -> dict:
    return httpx.post(f"{url}/graphql", json={"query": query}, timeout=30).json()["data"]


def catch_up_run(url: str, timeout: float = 420) -> dict:
    """The daemon's first daily_catch_up run (summaries, projections, briefings), finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [r for r in graphql(url, RUNS)["runsOrError"]["results"]
                if {"key": "dagster/sensor_name", "value": "daily_catch_up"} in r["tags"]]
        if runs and runs[0]["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
            return runs[0]
        time.sleep(3)
    raise AssertionError("the daemon's catch-up run did not finish in time")


def test_from_clone_to_persys_up_with_my_own_tables(tmp_path, make_database, chromium,
                                                     artifacts):
    yesterday = dt.datetime.now(ZoneInfo("Europe/London")).date() - dt.timedelta(days=1)
    supabase = make_database("supabase")
    create_supabase_core(supabase, days=60, as_of=yesterday)
    clone = tmp_path / "persys-pipelines"
    clone.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PERSYS_") and k != "DAGSTER_HOME"}
    env |= {"SUPABASE_DB_URL": supabase, "TZ": "Europe/London"}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    try:
        demo = persys("demo", "--days", "30", cwd=clone, env=env)
        assert demo.returncode == 0, demo.stderr
        assert "`persys up --demo`" in demo.stdout and "`persys init`" in demo.stdout

        init = persys("init", cwd=clone, env=env)
        assert init.returncode == 0, init.stdout + init.stderr
        assert "0 failed" in init.stdout and "Next:" in init.stdout
        config = yaml.safe_load((clone / "persys.yaml").read_text())
        assert {"journal", "sleep_log", "daily_summaries"} <= set(config["tables"])
        assert config["daily"]["metrics"]["mood"]["source"]["table"] == "journal"

        doctor = persys("doctor", cwd=clone, env=env)
        assert doctor.returncode == 0, doctor.stdout

        up = persys("up", "--detach", "--port", str(port), cwd=clone, env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"Dagster UI: {url}" in up.stdout
        assert "core: created daily_summaries" in up.stdout
        assert "paused until your go-ahead: " + ", ".join(sorted(go_ahead.GATED)) in up.stdout

        keys = {"/".join(a["assetKey"]["path"]) for a in graphql(url, ASSETS)["assetNodes"]}
        assert {"core/journal", "core/sleep_log", "main/journal", "daily_summary",
                "voice_briefing"} <= keys
        assert "core/journal_entries" not in keys  # the demo's tables are the demo's

        run = catch_up_run(url)
        assert run["status"] == "SUCCESS", run
        with connect(supabase) as conn:  # their summaries, from their metrics, in their core
            text, mood = conn.execute(
                "select summary_text, mood->>'mood_mean' from persys.daily_summaries "
                "where day = %s", (yesterday,)).fetchone()
        assert "mood" in text and mood is not None

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 760})
                page.goto(f"{url}/asset-groups")
                no_first_visit_dialog(page)
                # their journal through the tiers, and what their tables feed each morning
                selection = quote('2+key:"archive/journal" or 2+key:"voice_briefing"', safe="")
                groups = quote(",".join(f"global@global:{g}" for g in
                                        ("core", "main", "archive", "daily")), safe="")
                page.goto(f"{url}/asset-groups~{selection}?expanded={groups}")
                boxes = page.locator("svg foreignObject")
                for name in ("journal", "sleep_log", "daily_summary", "voice_briefing"):
                    boxes.get_by_text(name, exact=True).first.wait_for(timeout=30_000)
                page.wait_for_timeout(2_000)  # the layout animates into place
                page.screenshot(path=artifacts / "first-hour-lineage.png")

                page.goto(f"{url}/assets/core/journal")
                page.get_by_text("rows", exact=True).first.wait_for(timeout=30_000)
                expect(page.get_by_text("Never observed")).to_have_count(0)
                page.screenshot(path=artifacts / "first-hour-core-journal.png")

                page.set_viewport_size({"width": 1600, "height": 800})  # room for the words
                page.goto(f"{url}/assets/voice_briefing")
                script = page.get_by_role("row").filter(has_text="Good morning").first
                script.wait_for(timeout=30_000)
                expect(page.get_by_text("Never materialized")).to_have_count(0)
                expect(page.get_by_text("voice///")).to_have_count(0)
                script.scroll_into_view_if_needed()  # the briefing's words in view
                page.get_by_text("Metadata", exact=True).first.scroll_into_view_if_needed()
                page.mouse.move(600, 400)
                page.mouse.wheel(0, 120)
                page.wait_for_timeout(1_000)
                page.screenshot(path=artifacts / "first-hour-briefing.png")
            finally:
                browser.close()

        on = persys("schedules", "on", cwd=clone, env=env)  # the go-ahead, while up runs
        assert "archive_due): on now" in on.stdout, on.stdout + on.stderr
        assert "paused until your go-ahead" not in on.stdout
        for name in go_ahead.GATED:
            assert name in on.stdout.split("on: ", 1)[1].splitlines()[0]
    finally:
        persys("down", cwd=clone, env=env, timeout=120)
        persys("down", "--demo", cwd=clone, env=env, timeout=120)
