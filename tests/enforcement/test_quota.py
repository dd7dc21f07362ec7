"""Quotas: the tenant's own day, and a reservation that holds under races,
on SQLite and on a real PostgreSQL with row-level security."""

from __future__ import annotations

import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from enforcement.errors import UsageError
from enforcement.quota import (
    STANDING,
    Quotas,
    day_start,
    seconds_until_next_day,
    tenant_day,
)
from enforcement.tenancy import Tenancy, TenantIsolationError
from enforcement.tenant_config import TenantConfig
from stack.db import QuotaCounter, Tenant, connect, create_schema, guard

UTC_ZONE = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
TOKYO = ZoneInfo("Asia/Tokyo")
HAVANA = ZoneInfo("America/Havana")
QUOTAS = Quotas(QuotaCounter)
DAILY = "executions_per_day"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- the tenant's day, with the clock pinned ---------------------------------


def test_the_day_is_the_tenants_local_date_not_utcs():
    moment = at("2026-12-03T23:30:00")

    assert tenant_day(moment, UTC_ZONE) == "2026-12-03"
    assert tenant_day(moment, BERLIN) == "2026-12-04"
    assert tenant_day(moment, ZoneInfo("America/New_York")) == "2026-12-03"


def test_the_last_second_of_a_day_and_the_first_of_the_next():
    last = at("2026-12-03T14:59:59")  # 23:59:59 in Tokyo
    first = last + timedelta(seconds=1)

    assert (tenant_day(last, TOKYO), tenant_day(first, TOKYO)) == (
        "2026-12-03",
        "2026-12-04",
    )
    assert seconds_until_next_day(last, TOKYO) == 1
    assert seconds_until_next_day(first, TOKYO) == 86_400


def test_the_same_instants_are_one_day_in_utc():
    last = at("2026-12-03T14:59:59")

    assert tenant_day(last, UTC_ZONE) == tenant_day(last + timedelta(seconds=1), UTC)
    assert seconds_until_next_day(last, UTC_ZONE) == 9 * 3600 + 1


def test_a_spring_forward_day_has_23_hours():
    midnight = day_start("2026-03-29", BERLIN)

    assert midnight == at("2026-03-28T23:00:00")
    assert seconds_until_next_day(midnight, BERLIN) == 23 * 3600


def test_a_fall_back_day_has_25_hours():
    midnight = day_start("2026-10-25", BERLIN)

    assert midnight == at("2026-10-24T22:00:00")
    assert seconds_until_next_day(midnight, BERLIN) == 25 * 3600


def test_a_day_whose_midnight_is_skipped_starts_when_the_gap_ends():
    # Havana springs from 00:00 straight to 01:00 on 8 March 2026.
    first = day_start("2026-03-08", HAVANA)

    assert first == at("2026-03-08T05:00:00")
    assert tenant_day(first, HAVANA) == "2026-03-08"
    assert tenant_day(first - timedelta(seconds=1), HAVANA) == "2026-03-07"
    assert seconds_until_next_day(first - timedelta(seconds=1), HAVANA) == 1


def test_a_naive_time_is_refused_with_the_fix():
    with pytest.raises(UsageError, match="tz=UTC"):
        tenant_day(datetime(2026, 12, 3, 12, 0), BERLIN)


# -- reservations on a real database ------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    """A session factory on the stack's schema, the statement guard installed;
    PostgreSQL as an application role under row-level security."""
    if request.param == "sqlite":
        engine, owner = connect(f"sqlite:///{tmp_path / 'quota.db'}"), None
    else:
        cluster = request.getfixturevalue("postgres")
        owner_url, app_url = cluster.create_database(
            f"quota_{secrets.token_hex(5)}", "tg_quota_app"
        )
        engine, owner = connect(app_url), connect(owner_url)
    sessions = create_schema(engine, owner)
    guard(engine, sessions)
    yield sessions
    engine.dispose()
    if owner is not None:
        owner.dispose()


def tenant(sessions, tenant_id: str = "acme") -> str:
    with sessions() as session:
        Tenancy.enter(session, tenant_id)
        config = TenantConfig(tenant_id)
        session.add(Tenant.from_config(config, at("2026-12-03T12:00:00")))
        session.commit()
    return tenant_id


def reserve(sessions, tenant_id: str, limit: int, seed=lambda: 0, commit=True):
    with sessions() as session:
        Tenancy.enter(session, tenant_id)
        taken = QUOTAS.reserve(session, tenant_id, DAILY, "2026-12-03", limit, seed)
        session.commit() if commit else session.rollback()
        return taken


def used(sessions, tenant_id: str, kind: str = DAILY, period="2026-12-03"):
    with sessions() as session:
        Tenancy.enter(session, tenant_id)
        return QUOTAS.used(session, tenant_id, kind, period)


def test_reservations_are_admitted_up_to_the_limit(database):
    acme = tenant(database)

    taken = [reserve(database, acme, limit=2) for _ in range(3)]

    assert [(t.admitted, t.current) for t in taken] == [
        (True, 0),
        (True, 1),
        (False, 2),
    ]
    assert used(database, acme) == 2


def test_a_new_counter_starts_from_the_work_already_there(database):
    acme = tenant(database)

    first = reserve(database, acme, limit=5, seed=lambda: 4)
    second = reserve(database, acme, limit=5, seed=lambda: 0)

    assert (first.admitted, first.current) == (True, 4)
    assert (second.admitted, second.current) == (False, 5)


def test_a_reservation_not_committed_gives_its_slot_back(database):
    acme = tenant(database)

    reserve(database, acme, limit=1, commit=False)

    assert reserve(database, acme, limit=1).admitted
    assert not reserve(database, acme, limit=1).admitted


def test_one_tenants_exhausted_quota_leaves_anothers_alone(database):
    acme, globex = tenant(database, "acme"), tenant(database, "globex")
    reserve(database, acme, limit=1)

    assert not reserve(database, acme, limit=1).admitted
    assert reserve(database, globex, limit=1).admitted


def test_release_gives_a_slot_back_and_never_goes_below_zero(database):
    acme = tenant(database)
    with database() as session:
        Tenancy.enter(session, acme)
        QUOTAS.reserve(session, acme, "agents", STANDING, 1, lambda: 0)
        QUOTAS.release(session, acme, "agents", STANDING)
        QUOTAS.release(session, acme, "agents", STANDING)
        session.commit()

    assert used(database, acme, "agents", STANDING) == 0


def test_a_counter_of_another_tenant_is_refused_by_the_guard(database):
    acme, globex = tenant(database, "acme"), tenant(database, "globex")

    with database() as session, pytest.raises(TenantIsolationError):
        Tenancy.enter(session, acme)
        QUOTAS.reserve(session, globex, DAILY, "2026-12-03", 5, lambda: 0)


def test_a_burst_of_racing_reservations_admits_exactly_the_limit(database):
    acme = tenant(database)
    start = threading.Barrier(16)

    def race(_):
        start.wait(timeout=30)
        return reserve(database, acme, limit=5).admitted

    with ThreadPoolExecutor(max_workers=16) as pool:
        admitted = list(pool.map(race, range(16)))

    assert admitted.count(True) == 5
    assert used(database, acme) == 5


def test_a_burst_on_a_counter_not_yet_created_refuses_nobody_under_the_limit(
    database,
):
    # The first burst of a day races to create the counter row: a request
    # whose UPDATE ran before the row existed must still get its slot.
    acme = tenant(database)
    start = threading.Barrier(16)

    def race(_):
        start.wait(timeout=30)
        return reserve(database, acme, limit=1000).admitted

    with ThreadPoolExecutor(max_workers=16) as pool:
        admitted = list(pool.map(race, range(16)))

    assert admitted == [True] * 16
    assert used(database, acme) == 16


def test_read_then_write_under_the_same_race_over_admits(database):
    # The twin of the test above: the burst it survives is one that breaks a
    # counter read, then written (the harness's quota_read_then_write).
    acme = tenant(database)
    reserve(database, acme, limit=5, commit=True)  # creates the row: used 1
    read_done = threading.Barrier(8)

    def race(_):
        with database() as session:
            Tenancy.enter(session, acme)
            seen = QUOTAS.used(session, acme, DAILY, "2026-12-03")
            session.commit()
            read_done.wait(timeout=30)
            session.execute(_write(acme, seen + 1))
            session.commit()
            return seen < 5

    with ThreadPoolExecutor(max_workers=8) as pool:
        admitted = list(pool.map(race, range(8)))

    assert admitted.count(True) == 8  # every one "got" the second slot
    assert used(database, acme) == 2  # and the counter lost seven of them


def _write(tenant_id: str, value: int):
    return (
        update(QuotaCounter)
        .where(QuotaCounter.tenant_id == tenant_id, QuotaCounter.kind == DAILY)
        .where(QuotaCounter.period == "2026-12-03")
        .values(used=value)
    )
