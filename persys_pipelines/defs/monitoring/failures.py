"""Run-failure sensor: a notification with the job, its assets and the error."""

import dagster as dg

from ...lib.errors import scrub
from ..resources import NotifierResource


def failure_text(context: dg.RunFailureSensorContext) -> tuple[str, str, str]:
    run = context.dagster_run
    error = context.failure_event.message or "unknown error"
    step_errors = []
    for event in context.get_step_failure_events():
        data = event.step_failure_data
        if data and data.error:
            root = data.error
            while root.cause is not None:  # the user's exception, not Dagster's wrapper
                root = root.cause
            # scrubbed, then cut: cut first, a secret split by the cut escapes the scrubber
            step_errors.append(f"{event.step_key}: {scrub(root.message.strip())[:400]}")
    return f"run-failure:{run.run_id}", f"❌ persys: {run.job_name} failed", "\n".join(
        [f"job: {run.job_name}", f"run: {run.run_id}"]
        + ([f"assets: {', '.join(_assets(context))}"] if _assets(context) else [])
        + [f"error: {error}"] + step_errors
    )


def _assets(context: dg.RunFailureSensorContext) -> list[str]:
    """The assets the run was to materialize (from its planned-materialization events)."""
    run = context.dagster_run
    keys = set(run.asset_selection or [])
    records = context.instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED).records
    keys.update(r.event_log_entry.dagster_event.asset_key for r in records
                if r.event_log_entry.dagster_event is not None)
    return sorted(k.to_user_string() for k in keys if k is not None)



@dg.run_failure_sensor(name="run_failure_notify_sensor",
                       default_status=dg.DefaultSensorStatus.RUNNING,
                       monitor_all_code_locations=False,
                       description="Sends a notification (Telegram/e-mail) when any run "
                                   "fails: job, assets, error.")
def run_failure_notify_sensor(context: dg.RunFailureSensorContext,
                              notifier: NotifierResource) -> None:
    handle = notifier.handle()  # loads persys.yaml: the scrubber knows its secrets from here
    key, subject, body = failure_text(context)
    deliveries = handle.notify(key, subject, body)
    failed = [d for d in deliveries if not d.ok]
    if failed:  # logged, never raised: the outbox retries them on the next monitoring tick
        context.log.warning(f"{len(failed)} notification(s) failed; retried on the next tick")
