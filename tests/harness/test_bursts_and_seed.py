"""Bursts released together, and the seed: one seed, the same values drawn,
whichever worker runs the item and whether it runs alone or among others."""

from __future__ import annotations

import threading
import time

from harness import template
from harness.runner import ItemRun, item_rng, release_together
from harness.target import multipart
from tests.harness.fakeapi import READ_SCENARIO


class InFlight:
    """A transport around the fake API that counts requests in flight at once."""

    def __init__(self, api) -> None:
        self.api, self.now, self.most = api, 0, 0
        self.lock = threading.Lock()

    def send(self, request):
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(0.05)
        try:
            return self.api.send(request)
        finally:
            with self.lock:
                self.now -= 1


BURST = """\
id: burst
title: Five creates at once
technique: F37
attack:
  - name: five creates released together
    burst:
      - {repeat: 5, method: POST, endpoint: agent.list, json: {name: "b {{unique}}"}}
    expect: {status: 201, succeeded: {max: MAX}}
"""


def run_burst(load, target, most: int):
    scenario = load(BURST.replace("MAX", str(most)))
    run = ItemRun(scenario, scenario.variants[0], target, seed=3)
    run.setup()
    return run, run.attack()


def test_a_burst_is_released_together(load, target, api):
    probe = InFlight(api)
    target.transport = probe

    run, findings = run_burst(load, target, 5)

    assert findings == []
    assert probe.most == 5
    names = {e.request.body for e in run.exchanges if e.kind == "attack"}
    assert len(names) == 5  # each copy expands its own {{unique}}


def test_more_successes_than_allowed_is_a_finding(load, target):
    _, findings = run_burst(load, target, 3)

    assert [finding.check for finding in findings] == ["succeeded"]
    assert "5 of 5 requests of the burst succeeded, expected at most 3" in (
        findings[0].summary
    )
    assert findings[0].evidence == ["answers: 5 x 201"]


def test_release_together_returns_answers_in_request_order():
    answers = release_together(lambda n: n * 2, [1, 2, 3])

    assert answers == [2, 4, 6]


def test_multipart_sends_the_file_name_as_written():
    body, content_type = multipart(
        {"file": {"filename": '..\\..\\evil".txt', "content": "x"}}, None
    )

    assert b'filename="..\\..\\evil%22.txt"' in body
    assert content_type.startswith("multipart/form-data; boundary=tenantguard-")
    assert multipart({"a": "1"}, None) == multipart({"a": "1"}, None)


def drawn(load, target, seed, variant: int = 0) -> list[bytes]:
    scenario = load(READ_SCENARIO.replace("id: read-foreign-agent", SEEDED))
    run = ItemRun(scenario, scenario.variants[variant], target, seed=seed)
    run.setup()
    run.attack()
    return [e.request.body for e in run.exchanges if e.kind == "setup"] + [
        e.request.url.rsplit("/", 1)[1] for e in run.exchanges if e.kind == "control"
    ]


SEEDED = "id: seeded\nmatrix:\n  n: [1, 2]"


def test_the_same_seed_draws_the_same_canaries_and_control_ids(load, target):
    first = drawn(load, target, 42)
    second = drawn(load, target, 42)

    assert first[0] == second[0] and b"cnry" in first[0]
    assert len(first) == 2


def test_another_seed_or_another_item_draws_other_values(load, target):
    assert drawn(load, target, 42)[0] != drawn(load, target, 43)[0]
    assert drawn(load, target, 42)[0] != drawn(load, target, 42, variant=1)[0]
    assert drawn(load, target, None)[0] != drawn(load, target, None)[0]


def test_the_items_generator_depends_on_the_seed_and_the_items_name(load):
    scenario = load(READ_SCENARIO)
    variant = scenario.variants[0]

    first = template.new_canary(item_rng(7, scenario, variant))
    again = template.new_canary(item_rng(7, scenario, variant))

    assert first == again and first.startswith("cnry") and len(first) == 20
