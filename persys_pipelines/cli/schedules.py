"""`persys schedules [on|off]`: which schedules and sensors run, and the go-ahead for the ones
that move and delete rows (defs/go_ahead.py).

The decision is written to `<home>/go-ahead.json` (read by the definitions when they load);
when `persys up` is running it is applied at once to the running instance through the UI's
GraphQL API (start/stop of each gated schedule and sensor), else by the next `persys up`.
"""

from __future__ import annotations

import argparse
import time

import httpx

from ..defs import go_ahead
from ..lib import processes
from ..lib.config import Config
from ..lib.errors import ServiceError
from .common import add_config_arg, load

LOCATION = "persys_pipelines"
REPO = {"repositoryLocationName": LOCATION, "repositoryName": "__repository__"}
STATES = """query($repo: RepositorySelector!) {
  schedulesOrError(repositorySelector: $repo) {
    __typename ... on Schedules { results { id name scheduleState { status } } } }
  sensorsOrError(repositorySelector: $repo) {
    __typename ... on Sensors { results { id name sensorState { status } } } }
}"""
START = {
    "schedule": """mutation($s: ScheduleSelector!) { startSchedule(scheduleSelector: $s) {
        __typename ... on PythonError { message } } }""",
    "sensor": """mutation($s: SensorSelector!) { startSensor(sensorSelector: $s) {
        __typename ... on PythonError { message } } }""",
}
STOP = {
    "schedule": """mutation($id: String!) { stopRunningSchedule(id: $id) {
        __typename ... on PythonError { message } } }""",
    "sensor": """mutation($id: String!) { stopSensor(id: $id) {
        __typename ... on PythonError { message } } }""",
}
HOW = ("`persys lifecycle run --dry-run` shows what they would do; `persys lifecycle run` "
       "(once) or `persys schedules on` starts them")


class GraphQLProblem(ServiceError):
    """The running UI did not do what was asked (its answer is the message)."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schedules", help="which schedules and sensors run; `on`/`off`: the "
                       "go-ahead for the ones that move and delete rows")
    p.add_argument("action", nargs="?", choices=("status", "on", "off"), default="status",
                   help="status (default), on: start the moving/deleting ones, off: pause them")
    add_config_arg(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    cfg = load(args, lenient=True)  # needs only `home`
    if args.action in ("on", "off"):
        go_ahead_given(cfg, on=args.action == "on", reason=f"`persys schedules {args.action}`",
                       quiet_if_same=False)
    running = processes.read_record(cfg.home)
    if running:
        print_states(running["url"], cfg.home)
        return 0
    decision = go_ahead.read(cfg.home)
    state = "on" if decision and decision.on else "paused"
    print(f"persys up is not running. The schedules and sensors that move and delete rows "
          f"({', '.join(go_ahead.GATED)}) are {state} for the next `persys up`"
          + ("" if state == "on" else f"; {HOW}") + "; every other one is on")
    return 0


def go_ahead_given(cfg: Config, *, on: bool = True, reason: str,
                   quiet_if_same: bool = True) -> None:
    """Record the decision and apply it to a running `persys up` (else the next one does)."""
    before = go_ahead.read(cfg.home)
    running = processes.read_record(cfg.home)
    if (quiet_if_same and before is not None and before.on == on
            and not (before.pending and running)):
        return  # said before; a pending one is applied when a running UI can take it
    applied = False
    if running:
        try:
            apply(running["url"], on)
            applied = True
        except (httpx.HTTPError, GraphQLProblem) as exc:
            print(f"note: could not reach the running UI ({exc}); the next `persys up` "
                  "applies it")
    go_ahead.write(cfg.home, on=on, reason=reason, pending=not applied)
    names = ", ".join(go_ahead.GATED)
    where = "now" if applied else "from the next `persys up` on"
    print(f"schedules that move and delete rows ({names}): {'on' if on else 'paused'} {where}")


def apply_pending(cfg: Config, url: str) -> None:
    """`persys up`, once the UI answers: a decision taken while it was not running."""
    decision = go_ahead.read(cfg.home)
    if decision is None or not decision.pending:
        return
    apply(url, decision.on)
    go_ahead.write(cfg.home, on=decision.on, reason=decision.reason, pending=False)


def _post(url: str, query: str, variables: dict) -> dict:
    answer = httpx.post(f"{url}/graphql", json={"query": query, "variables": variables},
                        timeout=30)
    answer.raise_for_status()
    body = answer.json()
    if body.get("errors"):
        raise GraphQLProblem(body["errors"][0].get("message", "error"))
    return body["data"]


def states(url: str, wait_s: float = 60) -> dict[str, tuple[str, str, str]]:
    """name → (kind, id, RUNNING|STOPPED) of every schedule and sensor in the running UI
    (waits for the code location to load)."""
    deadline = time.monotonic() + wait_s
    while True:
        data = _post(url, STATES, {"repo": REPO})
        found = data["schedulesOrError"]["__typename"] == "Schedules"
        if found or time.monotonic() > deadline:
            break
        time.sleep(1)
    if not found:
        raise GraphQLProblem(f"the UI has no code location {LOCATION} loaded")
    out = {s["name"]: ("schedule", s["id"], s["scheduleState"]["status"])
           for s in data["schedulesOrError"]["results"]}
    if data["sensorsOrError"]["__typename"] == "Sensors":
        out |= {s["name"]: ("sensor", s["id"], s["sensorState"]["status"])
                for s in data["sensorsOrError"]["results"]}
    return out


def apply(url: str, on: bool) -> None:
    """Start (or stop) every gated schedule and sensor in the running instance."""
    for name, (kind, ident, status) in states(url).items():
        if name not in go_ahead.GATED or (status == "RUNNING") == on:
            continue
        if on:
            key = "scheduleName" if kind == "schedule" else "sensorName"
            data = _post(url, START[kind], {"s": {**REPO, key: name}})
        else:
            data = _post(url, STOP[kind], {"id": ident})
        result = next(iter(data.values()))
        if result["__typename"] == "PythonError":
            raise GraphQLProblem(f"{name}: {result['message']}")


def print_states(url: str, home=None) -> None:
    """What `persys up` and `persys schedules` say: which automations are on, which paused."""
    found = states(url)
    on = sorted(n for n, (_, _, s) in found.items() if s == "RUNNING")
    off = sorted(n for n, (_, _, s) in found.items() if s != "RUNNING")
    print(f"on: {', '.join(on) or 'none'}")
    gated_off = [n for n in off if n in go_ahead.GATED]
    other_off = [n for n in off if n not in go_ahead.GATED]
    decision = go_ahead.read(home) if home is not None else None
    if gated_off and decision is not None and not decision.on:
        print(f"paused ({decision.reason}): {', '.join(gated_off)}; `persys schedules on` "
              "starts them")
    elif gated_off:
        print(f"paused until your go-ahead: {', '.join(gated_off)} ({HOW})")
    if other_off:
        print(f"paused (in the UI): {', '.join(other_off)}")
