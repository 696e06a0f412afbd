"""End to end as a person meets the project: `persys up` on sample data, runs launched through
Dagster's GraphQL client (a ranged backfill of daily_summary, a core→main lifecycle run), the
results checked in the tiers with SQL, then the UI in headless Chromium.

Screenshots go to test-artifacts/ (gitignored; CI keeps them as artifacts).
"""

from __future__ import annotations

import datetime as dt
import re
import time

import httpx
import pytest
from dagster import DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient
from playwright.sync_api import Page, expect, sync_playwright

from persys_pipelines import handles
from persys_pipelines.defs import go_ahead
from persys_pipelines.defs.lifecycle.assets import main_key
from persys_pipelines.defs.lifecycle.schedules import JOB_NAME, run_request_tags
from persys_pipelines.handles import resolve_tier
from persys_pipelines.lib.config import Config, load_config
from persys_pipelines.lib.pg.tiers import DAGSTER_DB, connect, embedded_server
from persys_pipelines.lib.tiering import lifecycle

pytestmark = pytest.mark.e2e

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DONE = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


def wait_for_run(client: DagsterGraphQLClient, run_id: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    status = client.get_run_status(run_id)
    while status not in DONE and time.monotonic() < deadline:
        time.sleep(1)
        status = client.get_run_status(run_id)
    assert status == DagsterRunStatus.SUCCESS, f"run {run_id} ended {status}"


@pytest.fixture(scope="module")
def cfg(persys_up) -> Config:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PERSYS_HOME", str(persys_up.home))
        mp.setenv("E2E_BOT_TOKEN", persys_up.env["E2E_BOT_TOKEN"])
        return load_config(persys_up.config)


@pytest.fixture(scope="module")
def client(persys_up) -> DagsterGraphQLClient:
    return DagsterGraphQLClient("127.0.0.1", port_number=persys_up.port)


@pytest.fixture(scope="module")
def lifecycle_run(cfg, client) -> dict:
    """A lifecycle run requested the way the nightly schedule requests it (same tags)."""
    as_of = cfg.today()
    plans = lifecycle.plan(resolve_tier(cfg, "core"), handles.specs(cfg), as_of)
    due = {t: p for t, p in plans.items() if p.days}
    assert "journal_entries" in due, "the sample data should have journal days due for main"
    tags = run_request_tags(cfg, due, as_of)
    run_id = client.submit_job_execution(JOB_NAME, tags=tags,
                                         asset_selection=[main_key(t) for t in due])
    wait_for_run(client, run_id)
    return {"run_id": run_id, "due": due, "tags": tags}


def test_ranged_backfill_of_daily_summary_writes_every_day(cfg, client):
    last = cfg.today() - dt.timedelta(days=1)
    first = last - dt.timedelta(days=13)
    run_id = client.submit_job_execution(
        "daily_morning_job", asset_selection=["daily_summary"],
        tags={RANGE_START: first.isoformat(), RANGE_END: last.isoformat()})
    wait_for_run(client, run_id)
    with resolve_tier(cfg, "core").connect() as conn:
        rows = conn.execute("select day, summary_text from persys.daily_summaries "
                            "where day between %s and %s order by day", (first, last)).fetchall()
    assert [r[0] for r in rows] == [first + dt.timedelta(days=i) for i in range(14)]
    assert all(text.strip() for _, text in rows)


def test_lifecycle_run_moves_due_days_to_main(cfg, lifecycle_run):
    due, run_id = lifecycle_run["due"], lifecycle_run["run_id"]
    journal = due["journal_entries"]
    core, main = resolve_tier(cfg, "core"), resolve_tier(cfg, "main")
    between = "select count(*) from journal_entries where entry_date between %s and %s"
    span = (journal.first_day, journal.last_day)
    with core.connect() as c, main.connect() as m:
        assert c.execute(between, span).fetchone()[0] == 0
        assert m.execute(between, span).fetchone()[0] == journal.rows
        ledger = m.execute("select table_name, sum(rows) from persys.ledger where run_id = %s "
                           "and outcome = 'moved' group by table_name", (run_id,)).fetchall()
    assert dict(ledger) == {t: p.rows for t, p in due.items()}


AUTOMATION = """{
  schedulesOrError(repositorySelector: $repo) { ... on Schedules { results {
    name scheduleState { status } } } }
  sensorsOrError(repositorySelector: $repo) { ... on Sensors { results {
    name sensorState { status } } } }
}"""


def test_daemon_runs_sensors_with_the_instance_in_postgresql(persys_up, cfg):
    """Schedules and sensors are on as the UI shows them, except those that move and delete
    rows (paused until the person's go-ahead), and the daemon ticks the sensors, recorded in
    the instance database in PostgreSQL (not a SQLite file)."""
    query = "query($repo: RepositorySelector!) " + AUTOMATION
    repo = {"repositoryLocationName": "persys_pipelines", "repositoryName": "__repository__"}
    data = httpx.post(f"{persys_up.url}/graphql", timeout=30,
                      json={"query": query, "variables": {"repo": repo}}).json()["data"]
    states = {s["name"]: s["scheduleState"]["status"]
              for s in data["schedulesOrError"]["results"]}
    states |= {s["name"]: s["sensorState"]["status"] for s in data["sensorsOrError"]["results"]}
    assert "lifecycle_nightly" in states and "core_quota_sensor" in states
    assert {n for n, status in states.items() if status != "RUNNING"} == set(go_ahead.GATED)

    dsn = embedded_server(persys_up.home).get_uri(DAGSTER_DB)
    deadline, ticked = time.monotonic() + 120, 0
    while time.monotonic() < deadline and not ticked:
        with connect(dsn) as conn:
            ticked = conn.execute("select count(*) from job_ticks where type = 'SENSOR' and "
                                  "tick_body like '%core_quota_sensor%'").fetchone()[0]
        time.sleep(2)
    assert ticked, "the daemon never evaluated core_quota_sensor"
    assert not list((persys_up.home / "dagster").glob("**/*.db")), "a SQLite store was made"
    with resolve_tier(cfg, "main").connect() as main:  # the sensor's own record of core usage
        assert main.execute("select count(*) from persys.usage").fetchone()[0] > 0


def no_first_visit_dialog(page: Page) -> None:
    """Dagster's "Join the Dagster community" dialog never covers the first page (dagster.yaml
    turns `nux` off)."""
    page.get_by_text("Global asset lineage").wait_for(timeout=60_000)
    page.wait_for_timeout(2_000)  # the dialog, when on, opens right after the page
    expect(page.get_by_role("dialog")).to_have_count(0)


def test_ui_shows_tier_groups_and_materialized_partitions(persys_up, chromium, artifacts,
                                                          lifecycle_run):
    tags = lifecycle_run["tags"]
    days = (dt.date.fromisoformat(tags[RANGE_END])
            - dt.date.fromisoformat(tags[RANGE_START])).days + 1
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(f"{persys_up.url}/asset-groups")
            no_first_visit_dialog(page)
            # the lineage graph is SVG; each group box's label sits in a foreignObject
            boxes = page.locator("svg foreignObject")
            for group in ("core", "main", "archive", "daily", "monitoring"):
                boxes.get_by_text(group, exact=True).wait_for(timeout=30_000)
            expect(page.get_by_text("fetching statuses")).to_have_count(0, timeout=30_000)
            page.wait_for_timeout(1_000)  # the layout animates into place
            page.screenshot(path=artifacts / "lineage-groups.png")

            # inside a group the tables are boxes labelled by table, under the group's name
            page.goto(f"{persys_up.url}/locations/__repository__@persys_pipelines/asset-groups/main")
            nodes = page.locator("svg foreignObject")
            for table in ("journal_entries", "health_metrics", "tasks"):
                nodes.get_by_text(table, exact=True).first.wait_for(timeout=30_000)
            page.wait_for_timeout(1_000)
            page.screenshot(path=artifacts / "lineage-group-main.png")

            page.goto(f"{persys_up.url}/assets/main/journal_entries?view=partitions")
            materialized = page.get_by_text(re.compile(r"Materialized \(\d+\)"))
            materialized.wait_for(timeout=30_000)
            page.wait_for_timeout(1_000)
            page.screenshot(path=artifacts / "main-journal_entries-partitions.png")
            assert materialized.inner_text().strip() == f"Materialized ({days})"

            page.goto(f"{persys_up.url}/assets/main/journal_entries")
            page.get_by_text("bytes_returned").wait_for(timeout=30_000)
            page.screenshot(path=artifacts / "main-journal_entries-overview.png", full_page=True)
        finally:
            browser.close()


CATCH_UP_RUNS = """{
  runsOrError(filter: {tags: [{key: "dagster/sensor_name", value: "daily_catch_up"}]}) {
    ... on Runs { results { runId status tags { key value } } } }
}"""


def test_daemon_catches_up_the_missed_days_and_sends_one_note(persys_up, cfg, client):
    """A fresh install is a machine that was off: the daemon's first tick of daily_catch_up
    asks for one ranged run over the missed days (default window 14 days); the run makes every
    day's summary, projection and briefing, and sends one Telegram note, the latest day's."""
    deadline, runs = time.monotonic() + 300, []
    while time.monotonic() < deadline:
        data = httpx.post(f"{persys_up.url}/graphql", json={"query": CATCH_UP_RUNS},
                          timeout=30).json()["data"]
        runs = data["runsOrError"]["results"]
        if runs and all(r["status"] in {s.value for s in DONE} for r in runs):
            break
        time.sleep(2)
    assert len(runs) == 1, f"expected one catch-up run, got {runs}"
    (run,) = runs
    assert run["status"] == "SUCCESS", run
    tags = {t["key"]: t["value"] for t in run["tags"]}
    yesterday = cfg.today() - dt.timedelta(days=1)
    first = yesterday - dt.timedelta(days=cfg.daily.catch_up_days - 1)
    assert tags[RANGE_END] == yesterday.isoformat()
    assert tags[RANGE_START] == first.isoformat()
    with resolve_tier(cfg, "core").connect() as conn:
        made = conn.execute(
            "select count(distinct s.day), count(distinct p.day), count(distinct v.day) "
            "from persys.daily_summaries s join persys.daily_projections p using (day) "
            "join persys.voice_messages v using (day) where day between %s and %s",
            (first, yesterday)).fetchone()
    assert made == (cfg.daily.catch_up_days,) * 3
    assert len(persys_up.telegram.voices) == 1
    assert f"{yesterday:%a %d %b %Y}".encode() in persys_up.telegram.voices[0]
