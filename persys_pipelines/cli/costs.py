"""`persys costs budget`: the AWS budgets persys watches, and the FORECASTED alert next to the
ACTUAL one (lib/monitoring/budgets.py)."""

from __future__ import annotations

import argparse

from ..lib.errors import UsageError
from .common import add_config_arg, load


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("costs", help="paid services: AWS budgets and their alerts")
    csub = p.add_subparsers(dest="costs_command", required=True, metavar="ACTION")
    budget = csub.add_parser("budget", help="AWS budgets: limit, actual, forecast, alerts; "
                             "--apply adds a missing budget and ACTUAL/FORECASTED alerts")
    add_config_arg(budget)
    budget.add_argument("--apply", action="store_true",
                        help="create what is missing (default: only say what)")
    budget.set_defaults(handler=run_budget)


def run_budget(args: argparse.Namespace) -> int:
    from ..lib.monitoring import budgets

    cfg = load(args)
    aws = cfg.costs.aws
    if aws is None:
        raise UsageError("costs.aws is not set in persys.yaml; set costs.aws.account_id (and "
                         "alert_emails) to watch AWS spend")
    todo = budgets.ensure(aws, apply=args.apply)
    for b in budgets.states(aws):
        forecast = "-" if b.forecast_usd is None else f"${b.forecast_usd:.2f}"
        print(f"{b.name}: limit ${b.limit_usd:.2f}, actual ${b.actual_usd:.2f}, forecast "
              f"{forecast}, alerts: {', '.join(b.kinds) or 'none'}")
    for line in todo:
        print(line)
    if todo and not args.apply:
        print("nothing changed: `persys costs budget --apply` creates it")
        return 1
    return 0
