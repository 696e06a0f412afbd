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
import datetime as dt
import html
from pathlib import Path
from typing import Any

from ..daily import metric_table
from ..voice import briefing
from ..voice.records import VoiceRecord
from .context import StatusContext
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


def page_path(home: Path, day: dt.date) -> Path:
    return home / "today" / f"{day.isoformat()}.html"


def write(path: Path, doc: str) -> Path:
    """Write the day's page (the boundary's `today_page` assembles it); returns its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc, encoding="utf-8")
    return path


def stored_briefing(rec: VoiceRecord | None, store, day: dt.date) -> dict[str, Any] | None:
    """The stored briefing's script and audio, when both are in the voice store; None means
    the page makes a new one with the local voice (never a paid call from this page)."""
    if rec is not None and rec.uri:
        ext = rec.uri.rsplit(".", 1)[-1]
        key, txt = briefing.audio_key(day, ext), briefing.audio_key(day, "txt")
        if store.exists(key) and store.exists(txt):
            return {"text": store.get(txt).decode("utf-8"), "audio": store.get(key),
                    "ext": ext, "engine": rec.engine}
    return None


def made_briefing(made) -> dict[str, Any]:
    """A briefing just produced (lib/voice/briefing.produce), in the page's shape."""
    return {"text": made.script.text, "audio": made.audio.data,
            "ext": made.audio.extension, "engine": made.engine}


def usage_rows(ctx: StatusContext) -> list[tuple[str, str]]:
    """Each tier's size against its quota, and the archive's bytes and files."""
    rows = []
    for name, tier in ctx.tiers.items():
        size, quota = tier.size_bytes(), tier.quota_bytes
        of = f" of {human_bytes(quota)} ({100 * size / quota:.0f}%)" if quota else ""
        rows.append((name, f"{human_bytes(size)}{of}"))
    archive = archive_inventory(ctx)
    rows.append(("archive", f"{human_bytes(archive['bytes'])} in {archive['files']} files"))
    return rows


def _table(head: list[str], rows: list[list[str]]) -> str:
    e = html.escape
    return ("<table><thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr></thead>"
            "<tbody>" + "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in r) + "</tr>"
                                for r in rows) + "</tbody></table>")


def html_page(day: dt.date, summary: dict, proj: dict | None, b: dict, chart: Path,
              week: dict | None, metrics: list[str],
              usage: list[tuple[str, str]]) -> str:
    """The page: everything inline (the chart and the audio as data URIs)."""
    e = html.escape
    audio = base64.b64encode(b["audio"]).decode("ascii")
    mime = "audio/ogg" if b["ext"] == "ogg" else "audio/mpeg"
    image = base64.b64encode(chart.read_bytes()).decode("ascii")
    table = metric_table.rows(summary.get("metrics") or {}, metrics)
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
        + _table(["tier", "usage"], [list(r) for r in usage]) + "</section>",
    ]
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>persys today: {day}</title><style>{STYLE}</style></head><body><main>"
            + "".join(parts) + "</main></body></html>")
