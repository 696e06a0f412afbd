"""`persys setup`: tiers, schema, optional sample data; `--validate` checks it all."""

from __future__ import annotations

import argparse

from .. import handles as setup_lib
from ..lib.monitoring.units import plural
from ..lib.pg.schema import SAMPLE_TABLES
from . import doctor as doctor_cli
from .common import add_config_arg, iso_date, load


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("setup", help="start/attach the tiers, create tables, add sample data")
    add_config_arg(p)
    p.add_argument("--sample-data", action="store_true",
                   help="create the sample tables and add synthetic data to core (without it, "
                        "only sample tables persys.yaml names are created)")
    p.add_argument("--days", type=int, default=120, help="days of sample data (default 120)")
    p.add_argument("--seed", type=int, default=7, help="sample-data seed (default 7)")
    p.add_argument("--as-of", type=iso_date, help="last day of sample data (default today)")
    p.add_argument("--validate", action="store_true",
                   help="only check, read-only: the same checks as `persys doctor`; "
                        "exit 1 on any FAIL")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.validate:
        return validate(args)
    cfg = load(args)

    print(f"home: {cfg.home}")
    created = setup_lib.setup_tiers(cfg, sample_data=args.sample_data)
    for tier, tables in created.items():
        print(f"{tier}: " + (f"created {', '.join(tables)}" if tables else "schema up to date"))
    for line in setup_lib.mark_archive_stores(cfg):
        print(line)
    print(setup_lib.backup_key_note(cfg))
    sample = [t for t in created["core"] if t in SAMPLE_TABLES]
    if sample and not args.sample_data:
        print(f"(sample tables {', '.join(sample)}: created because persys.yaml's tables: "
              "names them; a persys.yaml listing only your own tables creates none)")
    if args.sample_data:
        if args.days < 1:
            raise SystemExit("persys: --days must be at least 1")
        counts = setup_lib.load_sample_data(cfg, days=args.days, seed=args.seed, as_of=args.as_of)
        total = sum(counts.values())
        detail = ", ".join(f"{t} {n:,}" for t, n in counts.items())
        print(f"sample data: {plural(total, 'row')} over {plural(args.days, 'day')} into core "
              f"({detail})")
    return 0


def validate(args: argparse.Namespace) -> int:
    """`--validate`: `persys doctor` (one implementation), every problem a FAIL line."""
    return doctor_cli.run(args)
