"""`persys import KIND PATH [--dry-run] [--as-of D]`: one file through the `imports/<kind>`
asset (recorded in the instance `persys up` shows); `--dry-run` reads the file and prints
where its rows would go, writing nothing."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..lib.config.imports import KINDS, imports_problems
from ..lib.errors import ConfigError
from .common import add_config_arg, iso_date, load


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="bring history in from an export (Apple Health, OFX/QFX, "
                       "bank CSV, .ics, Day One, Markdown), each day into its tier")
    p.add_argument("kind", choices=KINDS, metavar="KIND", help=" | ".join(KINDS))
    p.add_argument("path", type=Path, help="the exported file (Markdown: a folder of notes)")
    p.add_argument("--dry-run", action="store_true",
                   help="read the file and print where its rows would go; write nothing")
    p.add_argument("--as-of", type=iso_date, help="route rows as if today were this day")
    add_config_arg(p)
    p.set_defaults(handler=import_command)


def import_command(args: argparse.Namespace) -> int:
    cfg = load(args)
    problems = imports_problems(cfg.imports, cfg.tables, (args.kind,))
    if problems:
        raise ConfigError("persys.yaml imports:", problems)
    path = args.path.expanduser().resolve()
    if args.dry_run:
        return _dry_run(cfg, args, path)
    import dagster as dg

    from ..defs import imports as import_defs
    from ..defs.imports.assets import JOB_NAME, import_key
    from ..defs.resources import resources
    from ..defs.runner import run_job
    from .lifecycle import config_path

    defs = dg.Definitions.merge(import_defs.definitions(cfg),
                                dg.Definitions(resources=resources(config_path(args))))
    config = {"path": str(path)} | ({"as_of": args.as_of.isoformat()} if args.as_of else {})
    result = run_job(defs, JOB_NAME, tags={"persys/import_kind": args.kind},
                     selection=[import_key(args.kind)],
                     run_config={"ops": {import_key(args.kind).to_python_identifier():
                                         {"config": config}}})
    for event in result.get_asset_materialization_events():
        meta = event.step_materialization_data.materialization.metadata
        print(meta["coverage_text"].value)
    print(f"run {result.run_id}")
    return 0


def _dry_run(cfg, args: argparse.Namespace, path: Path) -> int:
    from .. import handles
    from ..lib.imports.coverage import coverage_lines

    report = handles.import_file(cfg, args.kind, path, today=args.as_of, dry_run=True)
    print("\n".join(coverage_lines(report)))
    return 0
