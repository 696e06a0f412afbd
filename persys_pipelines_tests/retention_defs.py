"""A small daily-partitioned asset with a check, ranged like `main/<table>`: the retention
tests materialize it in a real PostgreSQL instance and read its status as the UI does."""


import dagster as dg

PARTS = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-11")
KEY = dg.AssetKey(["main", "days"])


@dg.asset(key=KEY, partitions_def=PARTS, backfill_policy=dg.BackfillPolicy.single_run(),
          check_specs=[dg.AssetCheckSpec("rows_ok", asset=KEY)])
def days(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    keys = context.partition_keys
    return dg.MaterializeResult(
        metadata={"rows": len(keys) * 10, "first_day": keys[0], "script": "x" * 500},
        check_results=[dg.AssetCheckResult(check_name="rows_ok", passed=True)])


days_job = dg.define_asset_job("days_job", selection=[days])
defs = dg.Definitions(assets=[days], jobs=[days_job])
