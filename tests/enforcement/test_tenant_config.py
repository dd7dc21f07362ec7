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
        "plan": "team",
        "limits": {"max_agents": 3, "max_executions_per_day": 100},
        "features": {},
    }


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
