"""Running a job from a `persys` command: the one way, shared by lifecycle, archive and demo.

The run happens in this process and is recorded in the instance of DAGSTER_HOME when it is set
(`persys up` and `persys demo` set it to `<home>/dagster`, so the UI shows these runs), else in
a throwaway instance. Dagster's console logging is kept to warnings: the command prints its own
summary. A failed run is alerted through the notifier with the same key as the run-failure
sensor (`run-failure:<run id>`), so a run the daemon never sees (no DAGSTER_HOME) is still
alerted, and one it does see is alerted once.
"""

from __future__ import annotations

import logging
import os
import warnings

import dagster as dg

from ..lib.errors import PersysError

log = logging.getLogger(__name__)

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


class RunFailed(PersysError):
    """A run failed; the message has the job, the run id and the last error."""


def run_job(defs: dg.Definitions, job_name: str, *, tags: dict[str, str],
            selection: list[dg.AssetKey] | None = None,
            run_config: dict | None = None) -> dg.ExecuteInProcessResult:
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    job = defs.resolve_job_def(job_name)
    instance = (dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME")
                else dg.DagsterInstance.ephemeral())
    # `with instance`: Dagster keeps the instance's state storage in a context variable; left
    # set, later Definitions in this process would refer to a disposed instance.
    with instance:
        result = job.execute_in_process(instance=instance, tags=tags, asset_selection=selection,
                                        raise_on_error=False,
                                        run_config={**QUIET, **(run_config or {})})
    if not result.success:
        errors = [e.message for e in result.all_events if e.is_failure]
        error = errors[-1] if errors else "see the Dagster run log"
        alert_failure(defs, job_name, result, error)
        causes = "".join(f"\n  {step}" for step in step_errors(result))
        raise RunFailed(f"{job_name} run {result.run_id} failed: {error}{causes}")
    return result


def failure_alert(job_name: str, result: dg.ExecuteInProcessResult, error: str
                  ) -> tuple[str, str, str]:
    """Key, subject and body as the run-failure sensor words them (defs/monitoring/failures)."""
    steps = step_errors(result)
    return (f"run-failure:{result.run_id}", f"❌ persys: {job_name} failed",
            "\n".join([f"job: {job_name}", f"run: {result.run_id}", f"error: {error}", *steps]))


def step_errors(result: dg.ExecuteInProcessResult) -> list[str]:
    """`step: message` of each failed step's root error (the user's exception, not Dagster's
    wrapper), so a command can say what went wrong."""
    steps = []
    for event in result.all_events:
        data = event.step_failure_data if event.is_step_failure else None
        if data and data.error:
            root = data.error
            while root.cause is not None:
                root = root.cause
            steps.append(f"{event.step_key}: {root.message.strip()[:400]}")
    return steps


def alert_failure(defs: dg.Definitions, job_name: str, result: dg.ExecuteInProcessResult,
                  error: str) -> None:
    """Alert through the notifier; never raises (the RunFailed that follows is the news)."""
    from ..lib.config import load_config
    from ..lib.monitoring.notify import Notifier

    try:
        resource = (defs.resources or {}).get("notifier")
        alerts = (resource.handle() if resource is not None
                  else Notifier.from_config(load_config(None)))
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
