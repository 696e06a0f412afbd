"""Running a job from a `persys` command: the one way, shared by lifecycle, archive and demo.

The run happens in this process and is recorded in the instance of DAGSTER_HOME when it is set
(`persys up` and `persys demo` set it to `<home>/dagster`, so the UI shows these runs), else in
a throwaway instance. Dagster's console logging is kept to warnings: the command prints its own
summary.
"""

from __future__ import annotations

import os
import warnings

import dagster as dg

from ..lib.errors import PersysError

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


class RunFailed(PersysError):
    """A run failed; the message has the job, the run id and the last error."""


def run_job(defs: dg.Definitions, job_name: str, *, tags: dict[str, str],
            selection: list[dg.AssetKey] | None = None) -> dg.ExecuteInProcessResult:
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    job = defs.resolve_job_def(job_name)
    instance = (dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME")
                else dg.DagsterInstance.ephemeral())
    # `with instance`: Dagster keeps the instance's state storage in a context variable; left
    # set, later Definitions in this process would refer to a disposed instance.
    with instance:
        result = job.execute_in_process(instance=instance, tags=tags, asset_selection=selection,
                                        raise_on_error=False, run_config=QUIET)
    if not result.success:
        errors = [e.message for e in result.all_events if e.is_failure]
        raise RunFailed(f"{job_name} run {result.run_id} failed: "
                        + (errors[-1] if errors else "see the Dagster run log"))
    return result


def materializations(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    """Last key part of each materialized asset → its metadata values (last event wins)."""
    out: dict[str, dict] = {}
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        out[mat.asset_key.path[-1]] = {k: v.value for k, v in mat.metadata.items()}
    return out
