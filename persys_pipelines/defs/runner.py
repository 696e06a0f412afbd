"""Running a job from a `persys` command: the one way, shared by lifecycle, archive and demo.

The run happens in this process and is recorded in the instance `persys up` shows: DAGSTER_HOME
when it is set, else `<home>/dagster` (lib/pg/instance.py), so every run a person starts from
the command line is in the UI. A throwaway in-memory instance is used only when asked
(`persys --throwaway-instance …`, or PERSYS_THROWAWAY_INSTANCE=1, which the test suite sets).

Dagster's console logging is off: the command prints its own summary, and a failed run is one
line naming the step, the error and its fix, plus the path of the run's full log (every event,
each failure with its traceback) under `<home>/logs/`. A failed run is alerted through the
notifier with the same key as the run-failure sensor (`run-failure:<run id>`), so a run the
daemon never sees is still alerted, and one it does see is alerted once.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import warnings
from pathlib import Path

import dagster as dg

from ..lib.errors import PersysError, scrub
from .tags import person_tags

log = logging.getLogger(__name__)

# Nothing from Dagster's console logger: a failed step would print its whole stack (~135
# lines) before the command's own one-line message; the full log goes to a file instead.
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
THROWAWAY_ENV = "PERSYS_THROWAWAY_INSTANCE"


class RunFailed(PersysError):
    """A run failed; the message has the job, the run id and the last error."""


def run_job(defs: dg.Definitions, job_name: str, *, tags: dict[str, str],
            selection: list[dg.AssetKey] | None = None,
            run_config: dict | None = None) -> dg.ExecuteInProcessResult:
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    job = defs.resolve_job_def(job_name)
    tags = {**tags, **person_tags()}  # a household's person: whose run it is, in the instance
    # `with instance`: Dagster keeps the instance's state storage in a context variable; left
    # set, later Definitions in this process would refer to a disposed instance.
    log_path = None
    with cli_instance(defs) as instance:
        result = job.execute_in_process(instance=instance, tags=tags, asset_selection=selection,
                                        raise_on_error=False,
                                        run_config={**QUIET, **(run_config or {})})
        if not result.success:
            log_path = write_run_log(instance, result.run_id, job_name, _home(defs))
    if not result.success:
        errors = [e.message for e in result.all_events if e.is_failure]
        error = errors[-1] if errors else "see the Dagster run log"
        alert_failure(defs, job_name, result, error)
        raise RunFailed(failure_line(job_name, result, error, log_path))
    return result


def throwaway_asked() -> bool:
    return os.environ.get(THROWAWAY_ENV, "").strip().lower() not in ("", "0", "false", "no")


def cli_instance(defs: dg.Definitions | None = None, home: Path | None = None
                 ) -> dg.DagsterInstance:
    """The instance `persys up` shows (DAGSTER_HOME, else `<home>/dagster`, made on first use);
    an ephemeral one only when PERSYS_THROWAWAY_INSTANCE is set."""
    if throwaway_asked():
        return dg.DagsterInstance.ephemeral()
    if not os.environ.get("DAGSTER_HOME"):
        from ..lib.pg.instance import prepare_dagster_home
        from ..lib.pg.tiers import embedded_running

        home = home or _home(defs)
        was_running = embedded_running(home) is not None
        prepare_dagster_home(home)
        if not was_running and embedded_running(home) is not None:
            print(f"(started the embedded PostgreSQL under {home} for the Dagster instance "
                  "`persys up` shows; it keeps running, `persys down` stops it)", flush=True)
    return dg.DagsterInstance.get()


def _home(defs: dg.Definitions | None) -> Path:
    """persys.yaml's home, from the Definitions' config resource (the packaged default's
    lookup when it has none)."""
    from ..lib.config import load_config

    resource = (defs.resources or {}).get("persys_config") if defs is not None else None
    return resource.load().home if resource is not None else load_config(None).home


def failure_line(job_name: str, result: dg.ExecuteInProcessResult, error: str,
                 log_path: Path | None) -> str:
    """One line: the step that failed, its root error (whose message names the fix) and where
    the full log is; a bug (not a PersysError) says so, its traceback being in the log."""
    failed = step_failures(result)
    where = f"{job_name} failed"
    if failed:
        step, root = failed[0]
        where += f" at step {step}"
        error = _one_line(root.message)
        if root.cls_name not in persys_error_names():
            error += " (an unexpected error, please report it)"
        else:
            error = re.sub(r"^[\w.]+: ", "", error)  # the class path says nothing to a person
        if len(failed) > 1:
            error += f" (and {len(failed) - 1} more failed step{'s' * (len(failed) > 2)})"
    else:
        error = _one_line(error)
    tail = f"; full log: {log_path}" if log_path else f" (run {result.run_id})"
    return f"{where}: {error}{tail}"


def _one_line(text: str, limit: int = 600) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def persys_error_names() -> set[str]:
    """Class names of every PersysError kind (a failed step's error is known only by name)."""
    seen, todo = set(), [PersysError]
    while todo:
        cls = todo.pop()
        seen.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return seen


def step_failures(result: dg.ExecuteInProcessResult) -> list[tuple[str, object]]:
    """(step key, root error info) of each failed step, in order."""
    out = []
    for event in result.all_events:
        data = event.step_failure_data if event.is_step_failure else None
        if data and data.error:
            root = data.error
            while root.cause is not None:
                root = root.cause
            out.append((event.step_key or "?", root))
    return out


def write_run_log(instance: dg.DagsterInstance, run_id: str, job_name: str, home: Path
                  ) -> Path | None:
    """Every event of the run, failures with their full tracebacks, as text in
    `<home>/logs/<job>-<run id>.log`; None when the file cannot be written."""
    from ..lib.errors import scrub

    path = home / "logs" / f"{job_name}-{run_id}.log"
    lines = []
    for entry in instance.all_logs(run_id):
        when = dt.datetime.fromtimestamp(entry.timestamp, dt.UTC).isoformat(timespec="milliseconds")
        level = logging.getLevelName(entry.level) if isinstance(entry.level, int) else entry.level
        lines.append(f"{when} {level} {entry.step_key or '-'} {entry.user_message or ''}".rstrip())
        event = entry.dagster_event
        data = event.step_failure_data if event is not None and event.is_step_failure else None
        if data is not None and data.error is not None:
            lines.append(data.error.to_string())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(scrub("\n".join(lines)) + "\n")
    except OSError as exc:
        log.warning("could not write the run log %s: %s", path, exc)
        return None
    return path


def failure_alert(job_name: str, result: dg.ExecuteInProcessResult, error: str
                  ) -> tuple[str, str, str]:
    """Key, subject and body as the run-failure sensor words them (defs/monitoring/failures)."""
    steps = step_errors(result)
    return (f"run-failure:{result.run_id}", f"❌ persys: {job_name} failed",
            "\n".join([f"job: {job_name}", f"run: {result.run_id}", f"error: {error}", *steps]))


def step_errors(result: dg.ExecuteInProcessResult) -> list[str]:
    """`step: message` of each failed step's root error (the user's exception, not Dagster's
    wrapper), so a command can say what went wrong."""
    return [f"{step}: {scrub(root.message.strip())[:400]}"
            for step, root in step_failures(result)]


def alert_failure(defs: dg.Definitions, job_name: str, result: dg.ExecuteInProcessResult,
                  error: str) -> None:
    """Alert through the notifier; never raises (the RunFailed that follows is the news)."""
    from ..handles_monitoring import notifier
    from ..lib.config import load_config

    try:
        resource = (defs.resources or {}).get("notifier")
        alerts = (resource.handle() if resource is not None
                  else notifier(load_config(None)))
        alerts.notify(*failure_alert(job_name, result, error))
    except Exception as exc:  # noqa: BLE001 (a broken notifier must not hide the failure)
        log.warning("could not alert the failed run %s: %s", result.run_id, type(exc).__name__)


def materializations(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    """Last key part of each materialized asset → its metadata values (last event wins)."""
    out: dict[str, dict] = {}
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        out[mat.asset_key.path[-1]] = {k: v.value for k, v in mat.metadata.items()}
    return out
