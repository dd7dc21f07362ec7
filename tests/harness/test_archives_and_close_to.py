"""Archive bodies written as data, the `until_midnight` filter on a pinned
clock, `repeat` for oversized bodies, and the `close_to` check with its
failing twin."""

from __future__ import annotations

import gzip
import io
import stat
import tarfile
import zipfile
from datetime import UTC, datetime

import pytest

from harness import archives, template
from harness.errors import ScenarioError
from harness.runner import ItemRun
from tests.harness.fakeapi import READ_SCENARIO

ESCAPING = {"name": "../../victim/files/report.txt", "content": "planted"}


def test_a_zip_keeps_member_names_exactly_as_written():
    data, content_type = archives.build({"format": "zip", "members": [ESCAPING]})

    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        assert bundle.namelist() == ["../../victim/files/report.txt"]
        assert bundle.read(bundle.infolist()[0]) == b"planted"
    assert content_type == "application/zip"


def test_a_zip_symlink_member_carries_the_link_mode_and_target():
    data, _ = archives.build({"members": [{"name": "l", "symlink": "../../victim"}]})

    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        info = bundle.infolist()[0]
        assert stat.S_ISLNK(info.external_attr >> 16)
        assert bundle.read(info) == b"../../victim"


def test_tar_link_members_name_their_targets():
    members = [
        {"name": "s", "symlink": "../../victim/files"},
        {"name": "h", "hardlink": "../../victim/files/report.txt"},
        ESCAPING,
    ]
    data, content_type = archives.build({"format": "tar", "members": members})

    with tarfile.open(fileobj=io.BytesIO(data)) as bundle:
        symbolic, hard, regular = bundle.getmembers()
    assert (symbolic.issym(), symbolic.linkname) == (True, "../../victim/files")
    assert (hard.islnk(), hard.linkname) == (True, "../../victim/files/report.txt")
    assert (regular.name, regular.size) == (ESCAPING["name"], 7)
    assert content_type == "application/x-tar"


def test_the_same_members_give_the_same_bytes():
    spec = {"format": "tar.gz", "members": [ESCAPING]}

    first, _ = archives.build(spec)

    assert first == archives.build(spec)[0]
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(first))) as bundle:
        assert bundle.getnames() == [ESCAPING["name"]]


def test_a_zip_cannot_hold_a_hard_link():
    with pytest.raises(ValueError, match="hard link"):
        archives.build({"members": [{"name": "h", "hardlink": "x"}]})


def test_a_request_sends_the_archive_as_its_body(target):
    spec = {
        "method": "PUT",
        "path": "/v1/archives/pack",
        "archive": {"members": [ESCAPING]},
    }

    request = target.build(spec)

    assert zipfile.ZipFile(io.BytesIO(request.body)).namelist() == [ESCAPING["name"]]
    assert request.header("Content-Type") == "application/zip"


ARCHIVE_STEP = """\
id: zip-slip
title: An archive whose member leaves the root
technique: E35
attack:
  - name: the attacker uploads it
    request:
      method: PUT
      path: /v1/archives/pack
      archive: ARCHIVE
    expect: {status: 400}
"""


def test_an_archive_body_loads(load):
    scenario = load(
        ARCHIVE_STEP.replace("ARCHIVE", "{format: tar, members: [{name: ../x}]}")
    )

    assert scenario.attack[0].request["archive"]["format"] == "tar"


@pytest.mark.parametrize(
    "archive, message",
    [
        ("{format: rar, members: [{name: x}]}", "'rar', which is not one of"),
        ("{members: []}", "must be a non-empty list of members, not a list"),
        ("{members: [{content: x}]}", "missing the required key 'name'"),
        ("{members: [{name: x, content: a, symlink: b}]}", "content and symlink"),
    ],
)
def test_a_malformed_archive_body_is_a_usage_error(load, archive, message):
    with pytest.raises(ScenarioError, match=message):
        load(ARCHIVE_STEP.replace("ARCHIVE", archive))


def _unix(text: str) -> float:
    return datetime.fromisoformat(text).astimezone(UTC).timestamp()


@pytest.mark.parametrize(
    "zone, at, seconds",
    [
        ("UTC", "1970-01-01T00:00:00+00:00", 86400),
        ("UTC", "2026-12-04T23:59:59.5+00:00", 1),
        ("Pacific/Kiritimati", "2026-12-04T00:00:00+00:00", 10 * 3600),
        # 29 March 2026 in Berlin has 23 hours: the clocks jump at 02:00.
        ("Europe/Berlin", "2026-03-29T00:00:00+01:00", 23 * 3600),
        ("Europe/Berlin", "2026-10-25T00:00:00+02:00", 25 * 3600),
    ],
)
def test_until_midnight_counts_to_the_next_local_midnight(zone, at, seconds):
    context = template.Context({"local": {"zone": zone, "at": _unix(at)}})

    assert template.expand("{{local | until_midnight}}", context) == seconds


def test_until_midnight_names_a_bad_zone():
    context = template.Context({"local": {"zone": "Mars/Olympus", "at": 0}})

    with pytest.raises(template.TemplateError, match="not a time zone"):
        template.expand("{{local | until_midnight}}", context)


CLOSE_TO = (
    READ_SCENARIO.split("attack:")[0]
    + """\
attack:
  - name: the victim reads its own agent
    as: victim
    request: {method: GET, endpoint: agent.item, id: "{{theirs}}"}
    expect:
      close_to: {status: [WANTED, 5]}
"""
)


@pytest.mark.parametrize("wanted, caught", [(203, False), (210, True)])
def test_close_to_allows_the_tolerance_and_no_more(load, target, wanted, caught):
    scenario = load(CLOSE_TO.replace("WANTED", str(wanted)))
    run = ItemRun(scenario, scenario.variants[0], target)
    run.setup()

    findings = run.attack()

    assert [finding.check for finding in findings] == (["close_to"] if caught else [])
    if caught:
        assert (
            "status: expected 210 (give or take 5), found 200" in findings[0].evidence
        )


def test_close_to_is_refused_in_a_burst(load):
    text = """\
    id: b
    title: b
    technique: F37
    attack:
      - burst: [{method: GET, path: /x}]
        expect: {close_to: {status: [200, 1]}}
    """
    with pytest.raises(ScenarioError, match="`close_to` checks one answer"):
        load(text)


def test_repeat_writes_an_oversized_value():
    context = template.Context({"big": {"text": "ab", "times": 3}})

    assert template.expand("{{big | repeat}}", context) == "ababab"


@pytest.mark.parametrize("times", [-1, "3", template.MAX_REPEAT + 1])
def test_repeat_refuses_what_it_cannot_make(times):
    context = template.Context({"big": {"text": "x", "times": times}})

    with pytest.raises(template.TemplateError, match="repeat"):
        template.expand("{{big | repeat}}", context)


def test_a_burst_of_several_requests_keeps_its_step_index(load):
    text = """\
    id: b
    title: b
    technique: F39
    attack:
      - burst: [{method: GET, path: /a}, {method: GET, path: /b}, {method: GET, path: /c}]
    """
    scenario = load(text)

    assert [step.index for step in scenario.attack] == [0]
