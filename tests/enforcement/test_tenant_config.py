"""Tenant configuration: every malformed value is refused with its location."""

from __future__ import annotations

import json

import pytest

from enforcement import tenant_config
from enforcement.errors import UsageError
from enforcement.tenant_config import TenantConfig


def test_shipped_data_document_is_generated_from_the_yaml(repo):
    tenants = tenant_config.load(repo / "stack" / "tenants.yaml")
    shipped = json.loads((repo / "stack" / "tenants.json").read_text())
    assert tenant_config.data_document(tenants) == shipped


def test_defaults_fill_missing_settings():
    tenant = TenantConfig.parse("acme", {"limits": {"max_agents": 3}})
    assert tenant.as_data() == {
        "plan": "free",
        "limits": {"max_agents": 3, "max_executions_per_day": 100},
        "features": {},
        "storage_quota_bytes": 100 * 1024 * 1024,
        "key_rotation_days": 90,
        "timezone": "UTC",
    }


def test_the_data_document_keeps_the_layout_the_policies_read(repo):
    """policies/README.md: data.tenants[id] holds plan, limits and features;
    the other settings ride along and the Rego ignores them."""
    document = tenant_config.data_document(
        tenant_config.load(repo / "stack" / "tenants.yaml")
    )
    for entry in document["tenants"].values():
        assert isinstance(entry["plan"], str)
        assert set(entry["limits"]) == set(tenant_config.LIMIT_NAMES)
        assert all(isinstance(flag, bool) for flag in entry["features"].values())


def test_an_update_replaces_settings_and_merges_limits_and_flags():
    before = TenantConfig.parse(
        "acme", {"plan": "team", "features": {"code_interpreter": True}}
    )

    after = before.updated(
        {"plan": "enterprise", "limits": {"max_agents": 3}, "features": {"web": True}}
    )

    assert after.plan == "enterprise"
    assert after.limits == {"max_agents": 3, "max_executions_per_day": 100}
    assert after.features == {"code_interpreter": True, "web": True}
    assert after.changes_from(before) == {
        "features.web": [None, True],
        "limits.max_agents": [10, 3],
        "plan": ["team", "enterprise"],
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": "globex"}, "unknown keys ['id']"),
        ({"features": {"web": "on"}}, "must be true or false"),
        ({"limits": "many"}, "expected a mapping of limits"),
        ({"timezone": "Europe/Atlantis"}, "is not a time zone"),
        ([], "expected a mapping"),
    ],
)
def test_an_update_is_validated_as_a_file_is(changes, message):
    with pytest.raises(UsageError, match="body") as refused:
        TenantConfig.parse("acme", {}).updated(changes, "body")
    assert message in str(refused.value)


def test_the_time_zone_is_a_zoneinfo_zone():
    assert str(TenantConfig.parse("acme", {"timezone": "Asia/Tokyo"}).zone()) == (
        "Asia/Tokyo"
    )


@pytest.mark.parametrize(
    ("tenant_id", "raw", "message"),
    [
        pytest.param(
            "../globex",
            {},
            "tenant ID '../globex' is invalid",
            id="tenant-id-is-a-path",
        ),
        pytest.param("", {}, "tenant ID '' is invalid", id="tenant-id-empty"),
        pytest.param(
            "Acme", {}, "tenant ID 'Acme' is invalid", id="tenant-id-uppercase"
        ),
        pytest.param("acme", [], "expected a mapping", id="settings-not-a-mapping"),
        pytest.param(
            "acme", {"owner": "x"}, "unknown keys ['owner']", id="unknown-key"
        ),
        pytest.param(
            "acme", {"plan": "gold"}, "'gold' is not a plan", id="unknown-plan"
        ),
        pytest.param(
            "acme",
            {"limits": {"max_agents": -1}},
            "must be a whole number",
            id="negative-limit",
        ),
        pytest.param(
            "acme",
            {"limits": {"max_agents": 2.5}},
            "must be a whole number",
            id="fractional-limit",
        ),
        pytest.param(
            "acme",
            {"limits": {"max_agents": True}},
            "must be a whole number",
            id="boolean-limit",
        ),
        pytest.param(
            "acme",
            {"limits": {"max_gpus": 1}},
            "unknown limit 'max_gpus'",
            id="unknown-limit",
        ),
        pytest.param(
            "acme",
            {"features": {"x": "yes"}},
            "must be true or false",
            id="flag-not-boolean",
        ),
        pytest.param(
            "acme",
            {"features": {"Bad Name": True}},
            "is not a feature name",
            id="flag-bad-name",
        ),
        pytest.param(
            "acme",
            {"limits": {"max_agents": 2**53}},
            "must be a whole number from 0",
            id="limit-beyond-exact-numbers",
        ),
        pytest.param(
            "acme",
            {"storage_quota_bytes": "1GB"},
            "must be a whole number",
            id="quota-not-a-number",
        ),
        pytest.param(
            "acme",
            {"key_rotation_days": 0},
            "number of days from 1",
            id="rotation-interval-zero",
        ),
        pytest.param(
            "acme",
            {"key_rotation_days": 3651},
            "number of days from 1",
            id="rotation-interval-too-long",
        ),
        pytest.param(
            "acme", {"timezone": "Mars/Olympus"}, "not a time zone", id="unknown-zone"
        ),
        pytest.param(
            "acme",
            {"timezone": "../../../etc/passwd"},
            "not a time zone",
            id="zone-that-is-a-path",
        ),
        pytest.param(
            "acme",
            {"timezone": "/etc/localtime"},
            "not a time zone",
            id="zone-absolute",
        ),
        pytest.param("acme", {"timezone": 1}, "not a time zone", id="zone-not-text"),
        pytest.param(
            "acme",
            {"features": {f"f{i}": True for i in range(65)}},
            "at most 64",
            id="too-many-flags",
        ),
    ],
)
def test_malformed_setting_is_refused_with_its_location(tenant_id, raw, message):
    with pytest.raises(UsageError, match="tenants") as refused:
        TenantConfig.parse(tenant_id, raw, "tenants")
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("tenants: [unclosed", "cannot read", id="broken-yaml"),
        pytest.param("- just a list", "top-level 'tenants:'", id="no-tenants-key"),
        pytest.param("tenants: 3", "top-level 'tenants:'", id="tenants-not-a-mapping"),
    ],
)
def test_malformed_file_is_refused_naming_the_file(tmp_path, text, message):
    path = tmp_path / "tenants.yaml"
    path.write_text(text)
    with pytest.raises(UsageError, match=str(path)) as refused:
        tenant_config.load(path)
    assert message in str(refused.value)


def test_file_in_an_odd_encoding_is_refused(tmp_path):
    path = tmp_path / "tenants.yaml"
    path.write_bytes(b"tenants:\n  acme: {plan: \xff}\n")
    with pytest.raises(UsageError, match="cannot read"):
        tenant_config.load(path)
