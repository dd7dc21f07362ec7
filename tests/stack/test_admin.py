"""The operator's surface: tenants, tokens, audit, health."""

from __future__ import annotations

import jwt

from stack.auth import AUDIENCE

NOT_FOUND = {"error": {"code": "not_found", "message": "resource not found"}}


def test_health_names_the_engine(stack):
    response = stack.client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "engine": "embedded"}


def test_tenant_creation_answers_the_tenant_with_defaults(stack):
    response = stack.create_tenant("acme")

    assert response.status_code == 201
    assert response.json() == {
        "id": "acme",
        "plan": "free",
        "limits": {"max_agents": 10, "max_executions_per_day": 100},
        "features": {},
        "storage_quota_bytes": 100 * 1024 * 1024,
        "key_rotation_days": 90,
        "timezone": "UTC",
    }


def test_tenant_creation_keeps_the_given_configuration(stack):
    config = {
        "plan": "team",
        "limits": {"max_agents": 3, "max_executions_per_day": 7},
        "features": {"code_interpreter": True},
        "storage_quota_bytes": 1000,
        "key_rotation_days": 30,
        "timezone": "Europe/Berlin",
    }

    response = stack.create_tenant("acme", **config)

    assert response.status_code == 201
    assert response.json() == {"id": "acme", **config}


def test_tenant_creation_twice_is_a_conflict(stack):
    stack.create_tenant("acme")

    response = stack.create_tenant("acme")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_tenant_id_that_is_a_path_is_refused(stack):
    for tenant_id in ("../other", ".", "", "Acme", "a" * 64, "-acme", "acme/x"):
        response = stack.create_tenant(tenant_id)

        assert response.status_code == 400, tenant_id
        assert response.json()["error"]["code"] == "invalid_request"


def test_tenant_creation_refuses_unknown_and_mistyped_fields(stack):
    bad = [
        {"id": "acme", "owner": "x"},
        {"id": "acme", "limits": {"max_agents": -1}},
        {"id": "acme", "limits": {"max_agents": "10"}},
        {"id": "acme", "features": {"code_interpreter": "yes"}},
        {"id": "acme", "plan": "gold"},
        {"id": "acme", "timezone": "Mars/Olympus"},
        {"id": "acme", "timezone": "../../etc/passwd"},
        {"id": "acme", "key_rotation_days": 0},
        {"id": "acme", "storage_quota_bytes": -1},
        {"id": "acme", "limits": {"max_agents": 2**53}},
    ]
    for body in bad:
        response = stack.client.post(
            "/admin/tenants", json=body, headers=stack.operator
        )

        assert response.status_code == 400, body


def test_token_carries_the_tenant_and_roles(stack):
    stack.create_tenant("acme")

    token = stack.token("acme", roles=("viewer",), user="u-7")

    claims = jwt.decode(
        token,
        stack.settings.jwt_secret,
        algorithms=["HS256"],
        audience=AUDIENCE,
        options={"verify_exp": False},  # minted at the pinned clock's time
    )
    assert (claims["tid"], claims["sub"], claims["roles"]) == (
        "acme",
        "u-7",
        ["viewer"],
    )


def test_token_for_an_unknown_tenant_is_not_found(stack):
    path = "/admin/tenants/nobody/tokens"
    body = {"user": "u-1", "roles": ["admin"]}

    response = stack.client.post(path, json=body, headers=stack.operator)

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_admin_routes_without_the_operator_key_look_like_missing_routes(stack, acme):
    missing = stack.client.get("/admin/nothing-here")
    attempts = [
        stack.client.get("/admin/audit"),
        stack.client.get("/admin/audit", headers={"X-Operator-Key": "wrong"}),
        acme.get("/admin/audit"),
        acme.post("/admin/tenants", json={"id": "evil"}),
        acme.post("/admin/tenants", json={"id": "evil", "unknown": 1}),
        acme.post("/admin/tenants/acme/tokens", json={"user": "u", "roles": ["admin"]}),
    ]

    for response in attempts:
        assert response.status_code == 404
        assert response.content == missing.content
        assert _stable(response.headers) == _stable(missing.headers)
    assert stack.create_tenant("evil").status_code == 201  # nothing was created


def test_operator_key_failures_are_audited(stack):
    stack.client.get("/admin/audit", headers={"X-Operator-Key": "wrong"})

    records = stack.audit()

    assert records[-1]["reason"] == "operator_key_invalid"
    assert records[-1]["event"] == "denied"


def test_admin_actions_are_audited(stack):
    stack.create_tenant("acme")
    stack.token("acme")

    records = stack.audit(tenant="acme")

    assert [(r["event"], r["action"]) for r in records] == [
        ("admin", "create"),
        ("admin", "mint_token"),
    ]


def test_audit_filters_by_request_id_and_sequence(stack):
    created = stack.create_tenant("acme")
    stack.create_tenant("globex")
    request_id = created.headers["X-Request-ID"]

    assert [r["resource_id"] for r in stack.audit(request_id=request_id)] == ["acme"]
    assert [r["resource_id"] for r in stack.audit(after=1)] == ["globex"]


def _stable(headers) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() != "x-request-id"}


def test_a_wrong_method_on_the_admin_surface_is_404_without_the_operator_key(
    stack, acme
):
    missing = stack.client.get("/admin/nothing-here")

    for response in (acme.delete("/admin/audit"), stack.client.put("/admin/audit")):
        assert response.status_code == 404
        assert response.content == missing.content
        [record] = stack.audit(request_id=response.headers["X-Request-ID"])
        assert record["reason"] == "operator_key_invalid"
    operator = stack.client.delete("/admin/audit", headers=stack.operator)
    assert operator.status_code == 405


def test_the_operator_reads_a_tenants_configuration(stack):
    stack.create_tenant("acme", timezone="Asia/Tokyo")

    answer = stack.client.get("/admin/tenants/acme", headers=stack.operator)

    assert answer.json()["timezone"] == "Asia/Tokyo"
    assert answer.json()["config_version"] == 1
    assert (
        stack.client.get("/admin/tenants/nobody", headers=stack.operator).status_code
        == 404
    )
