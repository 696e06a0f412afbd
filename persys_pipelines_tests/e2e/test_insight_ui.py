"""The person's metrics as a person sees them, in headless Chromium: the chart in the Dagster
UI (a data-URI image in `daily_projection`'s Markdown metadata, which the UI opens in a dialog
from "[Show Markdown]"; the metric table on `daily_summary`), and the `persys today` page
opened from disk: briefing, a playable audio, the chart at its full width, one table row per
metric. Screenshots go to test-artifacts/."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from persys_pipelines_tests.e2e.conftest import persys
from persys_pipelines_tests.e2e.test_ui import CHROMIUM_ARGS, cfg, no_first_visit_dialog

pytestmark = pytest.mark.e2e


__all__ = ["cfg"]  # test_ui's module fixture: the e2e persys.yaml as the tests read it


@pytest.fixture(scope="module")
def summarised(persys_up, cfg) -> dt.date:
    """`persys daily run` over the last days, recorded in the instance the UI shows
    (`persys up` keeps it in <home>/dagster)."""
    env = {**persys_up.env, "DAGSTER_HOME": str(persys_up.home / "dagster")}
    run = persys("daily", "run", "--days", "3", env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    return cfg.today() - dt.timedelta(days=1)


def test_the_chart_and_the_metric_table_show_in_the_dagster_ui(persys_up, summarised, chromium,
                                                               artifacts):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1200})
            page.goto(f"{persys_up.url}/asset-groups")
            no_first_visit_dialog(page)
            page.goto(f"{persys_up.url}/assets/daily_projection")
            # Dagster draws Markdown metadata behind "[Show Markdown]", in a dialog
            row = page.locator("tr", has=page.get_by_text("chart", exact=True))
            row.get_by_text("[Show Markdown]").click(timeout=60_000)
            image = page.get_by_role("dialog").locator("img[src^='data:image/png;base64,']")
            image.wait_for(timeout=30_000)
            page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                                   arg=image.element_handle(), timeout=30_000)
            assert image.evaluate("img => img.naturalWidth") >= 1080
            page.screenshot(path=artifacts / "daily_projection-chart.png")
            page.keyboard.press("Escape")

            page.goto(f"{persys_up.url}/assets/daily_summary")
            page.get_by_text("last_day_metrics").first.wait_for(timeout=60_000)
            page.screenshot(path=artifacts / "daily_summary-metrics.png", full_page=True)
        finally:
            browser.close()


def test_the_today_page_opens_from_disk_with_everything_on_it(persys_up, summarised, cfg,
                                                              chromium, artifacts):
    made = persys("today", "--date", summarised.isoformat(), env=persys_up.env)
    assert made.returncode == 0, made.stdout + made.stderr
    page_file = Path(made.stdout.strip().splitlines()[-1])
    assert page_file.name == f"{summarised}.html"
    metrics = len(cfg.daily.metric_defs())
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(page_file.as_uri())
            expect(page.locator("h1")).to_contain_text(f"{summarised:%B %Y}")
            expect(page.locator("#briefing p").first).to_contain_text("Good morning")
            audio = page.locator("audio")
            page.wait_for_function("a => a.readyState >= 1 && a.duration > 5",
                                   arg=audio.element_handle(), timeout=30_000)
            chart = page.locator("#chart img")
            assert chart.evaluate("img => img.naturalWidth") >= 1080
            assert page.locator("#metrics tbody tr").count() == metrics
            expect(page.locator("#correlations")).to_contain_text("correlation, not cause",
                                                                  ignore_case=True)
            expect(page.locator("#usage")).to_contain_text("core")
            page.screenshot(path=artifacts / "today.png", full_page=True)
        finally:
            browser.close()
