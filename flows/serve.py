"""``cleanwire serve``: the daily deployment served by this long-running process, for teams without a
work pool. It declares the same schedule, parameters, tags and concurrency limit as ``prefect.yaml``.

Schedules need a Prefect server (``prefect server start``, PREFECT_API_URL pointing at it): the
ephemeral server a lone ``cleanwire run`` starts has no scheduler and would create no runs.
Kept free of Prefect imports at module level: the CLI reads ``DAILY_CRON`` to build its help.
"""

from __future__ import annotations

DAILY_DEPLOYMENT = "cleanwire-daily"
# 23:30 in the schedule's time zone: the run processes that day's scrapes (flows.daily.default_date).
DAILY_CRON = "30 23 * * *"
DAILY_TAGS = ["cleanwire", "daily"]


def daily_parameters(source: str, dest: str, timezone: str, overrides: dict) -> dict:
    """The deployment's parameters; the schedule's time zone goes to the run too, so its default date
    is the scheduled day in that zone. A scheduled run never replaces a published partition with an
    empty or a much smaller one (flows.daily.daily_flow)."""
    ops = {**overrides.get("ops", {}), "timezone": timezone}
    return {
        "source": source,
        "dest": dest,
        "overrides": {**overrides, "ops": ops},
        "allow_empty": False,
        "allow_shrink": False,
    }


def serve_daily(source: str, dest: str, cron: str, timezone: str | None, overrides: dict) -> None:
    from prefect.schedules import Cron
    from prefect.settings import PREFECT_API_URL

    from flows.daily import daily_flow
    from tasks.config import load_settings
    from tasks.errors import PipelineError

    if not PREFECT_API_URL.value():
        raise PipelineError(
            "serve needs a Prefect server with a scheduler: run `prefect server start` and set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api (the ephemeral server schedules nothing)"
        )
    ops = overrides.get("ops", {}) | ({"timezone": timezone} if timezone else {})
    timezone = load_settings({**overrides, "ops": ops}).ops.timezone  # validates the name
    daily_flow.serve(
        name=DAILY_DEPLOYMENT,
        schedule=Cron(cron, timezone=timezone),
        parameters=daily_parameters(source, dest, timezone, overrides),
        tags=DAILY_TAGS,
        global_limit=1,  # one run of the deployment at a time, so no two runs of a date overlap
    )
