import dagster as dg

nightly_job = dg.define_asset_job(
    "nightly", selection=dg.AssetSelection.groups("ingest", "features"), tags={"team": "data"}
)

nightly_schedule = dg.ScheduleDefinition(job=nightly_job, cron_schedule="0 2 * * *")


@dg.sensor(job=nightly_job, minimum_interval_seconds=60)
def export_sensor(context: dg.SensorEvaluationContext):
    if context.cursor == "seen":
        return dg.SkipReason("nothing new")
    context.update_cursor("seen")
    return dg.RunRequest(run_key="first-export")
