"""`persys today`: one static HTML page of a day: the briefing and its audio, the most notable
things, the chart, the metric table, this week's correlations, projections and the tiers' usage.

Everything is inside the one file (the chart and the audio as data URIs), so it opens from
disk, from a phone's file app or as a mail attachment, with no server. Written to
`<home>/today/<day>.html`. A day not summarised yet is computed on the fly, as `persys voice
preview` does; the audio is the day's stored briefing, else made with the local voice (never
a paid call from this page).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import html
from pathlib import Path
from typing import Any

from ..config import Config
from ..daily import charts, metric_table, projection, weekly
from ..pg.tiers import resolve_tiers
from ..tiering import reader
from ..tiering.reader import TieredReader
from ..voice import briefing, records
from ..voice.context import VoiceHandles
from .status import archive_inventory, human_bytes

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;
color:#1d2430}main{max-width:1240px;margin:0 auto;padding:16px}h1{font-size:1.7rem;margin:.3em 0}
h2{font-size:1.15rem;margin:1.2em 0 .4em}section{background:#fff;border-radius:10px;
padding:12px 16px;margin:12px 0;box-shadow:0 1px 3px #0002}table{border-collapse:collapse;
width:100%;font-size:.9rem}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e3e6ea;
vertical-align:top}th{background:#eef1f5}img{max-width:100%;height:auto}audio{width:100%}
.note{color:#5b6675;font-size:.85rem}.lead li{margin:.3em 0}
"""


def page_path(cfg: Config, day: dt.date) -> Path:
    return cfg.home / "today" / f"{day.isoformat()}.html"


def build(cfg: Config, day: dt.date, *, voice: VoiceHandles) -> Path:
    """Write the day's page; returns its path. `voice`: handles.voice_handles(cfg)."""
    daily = voice.daily
    summary, proj = briefing.load_day(daily.reader, day)
    if summary is None:
        summary, proj = briefing.compute_day(daily, day)
    b = _briefing(voice, day)
    series = projection.read_series(daily, day, day)
    if proj is None:
        proj = projection.project(daily.settings, series, day, day)[0][2]
    chart = charts.render(daily.settings, daily.charts_dir, day, series, proj)
    week = _week(daily.reader, day)
    doc = _html(cfg, day, summary, proj, b, chart, week)
    path = page_path(cfg, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc, encoding="utf-8")
    return path


def _briefing(voice: VoiceHandles, day: dt.date) -> dict[str, Any]:
    """The stored briefing's script and audio, or a new one with the local voice."""
    rec = records.find(voice.tiers, day)
    store = voice.store
    if rec is not None and rec.uri:
        ext = rec.uri.rsplit(".", 1)[-1]
        key, txt = briefing.audio_key(day, ext), briefing.audio_key(day, "txt")
        if store.exists(key) and store.exists(txt):
            return {"text": store.get(txt).decode("utf-8"), "audio": store.get(key),
                    "ext": ext, "engine": rec.engine}
    local = dataclasses.replace(voice, settings=voice.settings.model_copy(
        update={"engine": "local"}))
    made = briefing.produce(local, day, compute_missing=True)
    return {"text": made.script.text, "audio": made.audio.data,
            "ext": made.audio.extension, "engine": made.engine}


def _week(tiers: TieredReader, day: dt.date) -> dict | None:
    try:
        return weekly.latest(tiers, day)
    except reader.ReaderError:
        return None


def _usage(cfg: Config) -> list[tuple[str, str]]:
    rows = []
    for name, tier in resolve_tiers(cfg).items():
        size, quota = tier.size_bytes(), tier.quota_bytes
        of = f" of {human_bytes(quota)} ({100 * size / quota:.0f}%)" if quota else ""
        rows.append((name, f"{human_bytes(size)}{of}"))
    archive = archive_inventory(cfg)
    rows.append(("archive", f"{human_bytes(archive['bytes'])} in {archive['files']} files"))
    return rows


def _table(head: list[str], rows: list[list[str]]) -> str:
    e = html.escape
    return ("<table><thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr></thead>"
            "<tbody>" + "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in r) + "</tr>"
                                for r in rows) + "</tbody></table>")


def _html(cfg: Config, day: dt.date, summary: dict, proj: dict | None, b: dict, chart: Path,
          week: dict | None) -> str:
    e = html.escape
    audio = base64.b64encode(b["audio"]).decode("ascii")
    mime = "audio/ogg" if b["ext"] == "ogg" else "audio/mpeg"
    image = base64.b64encode(chart.read_bytes()).decode("ascii")
    table = metric_table.rows(summary.get("metrics") or {}, list(cfg.daily.metric_defs()))
    found = list((week or {}).get("found") or [])
    parts = [
        f"<h1>{e(f'{day:%A %d %B %Y}')}</h1>",
        "<section id='briefing'><h2>Briefing</h2>"
        f"<audio controls src='data:{mime};base64,{audio}'></audio>"
        f"<p>{e(b['text'])}</p><p class='note'>voice: {e(b['engine'])}</p></section>",
        f"<section id='summary'><h2>Summary</h2><p>{e(str(summary.get('summary_text')))}</p>"
        f"<p>{e(str((proj or {}).get('text') or ''))}</p></section>",
        f"<section id='chart'><h2>Your metrics</h2><img alt='metrics of {day}' "
        f"src='data:image/png;base64,{image}'></section>",
        "<section id='metrics'><h2>Metric table</h2>"
        + _table(list(metric_table.COLUMNS), [list(r.values()) for r in table])
        + "<p class='note'>usual: median of the previous 60 days; z: robust z-score (median "
          "and MAD); calibrating until 14 days with a value.</p></section>",
        "<section id='correlations'><h2>This week's correlations</h2>"
        + ("<ul>" + "".join(f"<li>{e(f['text'])}{' (new)' if f.get('new') else ''}</li>"
                            for f in found) + "</ul>" if found else
           f"<p>{e(str((week or {}).get('text') or 'Not computed yet for this week.'))}</p>")
        + "<p class='note'>Correlation, not cause: Spearman over the last 364 days, "
          "Benjamini–Hochberg over every pair tested, q &lt; 0.05.</p></section>",
        "<section id='usage'><h2>Tiers</h2>"
        + _table(["tier", "usage"], [list(r) for r in _usage(cfg)]) + "</section>",
    ]
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>persys today: {day}</title><style>{STYLE}</style></head><body><main>"
            + "".join(parts) + "</main></body></html>")
