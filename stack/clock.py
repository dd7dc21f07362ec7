"""Time, always UTC, always passed in: nothing below reads the clock itself."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta, tzinfo

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """`2026-12-03T18:00:00.123456Z`: the one text form of a time in the API."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def start_of_day(now: datetime, zone: tzinfo = UTC) -> datetime:
    """Midnight, in `zone` (the tenant's time zone), of the day `now` falls in:
    the daily limits reset here. Returned in UTC."""
    local = now.astimezone(zone)
    midnight = datetime.combine(local.date(), time(0), tzinfo=zone)
    return midnight.astimezone(UTC)


def seconds_until_next_day(now: datetime, zone: tzinfo = UTC) -> int:
    next_day = now.astimezone(zone).date() + timedelta(days=1)
    midnight = datetime.combine(next_day, time(0), tzinfo=zone)
    return max(1, math.ceil((midnight.astimezone(UTC) - now).total_seconds()))
