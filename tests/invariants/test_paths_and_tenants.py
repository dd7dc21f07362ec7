"""The two oracles the invariants lean on: how a storage path may be read,
and the renaming of tenants."""

from __future__ import annotations

import pytest

from harness.invariants import Checker, paths
from harness.invariants.tenants import is_tenant_id

ROOT = "storage/tenants/acme/"
VECTORS = paths.vector_templates("storage/tenants/")
CONTROLS = {"plain", "nested"}


def expand(template: str) -> str:
    return template.replace("{own}", "acme").replace("{other}", "globex")


@pytest.mark.parametrize(
    ("form", "template"), VECTORS, ids=[form for form, _ in VECTORS]
)
def test_every_group_e_vector_but_the_controls_escapes_or_is_malformed(form, template):
    path = expand(template)
    flagged = paths.escape(path, ROOT) or paths.malformed(path)
    assert bool(flagged) == (form not in CONTROLS), (path, flagged)


@pytest.mark.parametrize(
    ("path", "reading"),
    [
        ("storage/tenants/acme/%2e%2e/globex/x", "storage/tenants/acme/../globex/x"),
        (
            "storage/tenants/acme/%252e%252e/globex/x",
            "storage/tenants/acme/../globex/x",
        ),
        (
            "storage/tenants/acme/%c0%ae%c0%ae/globex/x",
            "storage/tenants/acme/../globex/x",
        ),
        (
            "storage/tenants/acme/\uff0e\uff0e/globex/x",
            "storage/tenants/acme/../globex/x",
        ),
        ("storage/tenants/acme/..\u2215globex", "storage/tenants/acme/../globex"),
        ("storage/tenants/acme/....//globex/x", "storage/tenants/acme/../globex/x"),
        ("storage/tenants/acme/..\\globex", "storage/tenants/acme/../globex"),
        ("storage/tenants/acme0/x", "storage/tenants/acme0/x"),
    ],
)
def test_encoded_traversal_is_read_outside_the_root(path, reading):
    assert paths.escape(path, ROOT) == reading


@pytest.mark.parametrize(
    "path",
    [
        "storage/tenants/acme/x",
        "storage/tenants/acme/a/b.txt",
        "storage/tenants/acme/x..y",
    ],
)
def test_well_formed_own_paths_are_read_inside_and_are_not_malformed(path):
    assert paths.escape(path, ROOT) is None
    assert paths.malformed(path) is None


@pytest.fixture(scope="module")
def checker(policy_dir):
    return Checker(policy_dir, "embedded")


def test_pool_holds_policy_literals_and_look_alikes(checker):
    world = checker.world
    assert {"acme", "acme0", "acm", "acme-evil"} <= set(world.configs)
    assert set(world.literals) <= set(world.configs)
    assert "admin" not in world.literals and "storage" not in world.literals
    assert all(map(is_tenant_id, world.names)) and not world.is_configured(
        world.unknown
    )


def test_renaming_swaps_partners_and_leaves_the_data_as_it_is(checker):
    world = checker.world
    for name, partner in world.partner.items():
        assert world.partner[partner] == name != partner
        assert world.configs[name] == world.configs[partner]


def test_renaming_reaches_every_tenant_position(checker):
    document = {
        "subject": {"tenant": "acme", "roles": ["admin"]},
        "resource": {"tenant": "globex", "type": "agent"},
        "key": {"tenant": "no-pool-1", "id": "acme"},
        "path": "storage/tenants/acme0/acme/x",
    }
    renamed, mapping = checker.inputs.rename(document)
    assert renamed == {
        "subject": {"tenant": "racme", "roles": ["admin"]},
        "resource": {"tenant": "rglobex", "type": "agent"},
        "key": {"tenant": "rno-pool-1", "id": "acme"},
        "path": "storage/tenants/racme0/acme/x",
    }
    assert mapping == {
        "acme": "racme",
        "globex": "rglobex",
        "no-pool-1": "rno-pool-1",
        "acme0": "racme0",
    }
    assert checker.inputs.rename(renamed)[0]["subject"] == document["subject"]
