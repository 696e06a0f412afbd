"""The coverage report of an import: what the file held, where each kind of row went, what
was already there, and what was skipped or dropped and why. Printed by `persys import` and
shown (as Markdown) in the run's metadata in the Dagster UI."""

from __future__ import annotations

from ..moves.import_plan import ARCHIVE, CORE, MAIN
from .run import ImportReport

TIERS = (CORE, MAIN, ARCHIVE)


def coverage_lines(report: ImportReport) -> list[str]:
    s, t = report.spooled, report.tally
    span = f"{s.first_day} .. {s.last_day}" if s.first_day else "no dated rows"
    head = "dry run: nothing was written" if report.dry_run else (
        "resumed an interrupted import" if report.resumed else "imported")
    lines = [f"{report.kind} {report.name}", f"  sha256 {report.sha256[:16]}…  {head}",
             f"  {t.records:,} records read, {s.rows:,} rows, days {span}"]
    lines.append(f"  {'rows by type':<40}{'core':>10}{'main':>10}{'archive':>10}")
    for label in sorted({lb for lb, _ in s.planned}):
        counts = [s.planned.get((label, tier), 0) for tier in TIERS]
        lines.append(f"  {label[:40]:<40}" + "".join(f"{n:>10,}" for n in counts))
    d = report.delivered
    if d is not None:
        tables = sorted({table for table, _ in d.new})
        for table in tables:
            new = [d.new.get((table, tier), 0) for tier in TIERS]
            present = [d.present.get((table, tier), 0) for tier in TIERS]
            lines.append(f"  {table + ': new':<40}" + "".join(f"{n:>10,}" for n in new))
            lines.append(f"  {table + ': already there':<40}"
                         + "".join(f"{n:>10,}" for n in present))
            if d.repeated.get(table):
                lines.append(f"  {table}: {d.repeated[table]:,} rows repeated within the file "
                             "(same natural key) were written once")
            if d.archived.get(table):
                lines.append(f"  {table}: {len(d.archived[table])} archive files written")
    if s.past_retention:
        lines.append(f"  dropped {s.past_retention:,} rows older than delete_days (retention "
                     "would delete them; raise delete_days to keep them)")
    for why, n in sorted(t.dropped.items()):
        lines.append(f"  dropped {n:,}: {why}")
    for what, n in t.seen.items():
        lines.append(f"  read {n:,} {what}")
    for what, n in t.skipped.items():
        lines.append(f"  skipped {n:,} {what}")
    lines.extend(f"  note: {note}" for note in t.notes)
    if report.seconds:
        lines.append("  seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in
                                                report.seconds.items()))
    return lines


def coverage_markdown(report: ImportReport) -> str:
    return "```\n" + "\n".join(coverage_lines(report)) + "\n```"
