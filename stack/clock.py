"""Time, always UTC, always passed in: nothing below reads the clock itself."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """`2026-12-03T18:00:00.123456Z`: the one text form of a time in the API."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def start_of_day(now: datetime) -> datetime:
    """Midnight (UTC) of the day `now` falls in: the daily limits reset here."""
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def seconds_until_next_day(now: datetime) -> int:
    next_day = start_of_day(now) + timedelta(days=1)
    return max(1, math.ceil((next_day - now).total_seconds()))
