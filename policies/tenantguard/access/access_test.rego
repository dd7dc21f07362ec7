package tenantguard.access_test

import data.tenantguard.access
import data.tenantguard.lib.reasons

_actions := ["read", "list", "create", "update", "delete", "execute"]

_types := ["agent", "execution", "credential", "file", "config", "audit"]

# The role table of policies/README.md, written out independently of the
# policy: "role action type" for every grant, nothing else.
_readme_grants := {
	"viewer read agent", "viewer read execution", "viewer read credential", "viewer read file", "viewer read config",
	"viewer list agent", "viewer list execution", "viewer list credential", "viewer list file", "viewer list config",
	"member read agent", "member read execution", "member read credential", "member read file", "member read config",
	"member list agent", "member list execution", "member list credential", "member list file", "member list config",
	"member create agent", "member create execution", "member create credential", "member create file",
	"member update agent", "member update execution", "member update credential", "member update file",
	"member execute agent", "member execute execution", "member execute credential", "member execute file",
	"admin read agent", "admin read execution", "admin read credential", "admin read file", "admin read config",
	"admin list agent", "admin list execution", "admin list credential", "admin list file", "admin list config",
	"admin create agent", "admin create execution", "admin create credential", "admin create file",
	"admin update agent", "admin update execution", "admin update credential", "admin update file",
	"admin execute agent", "admin execute execution", "admin execute credential", "admin execute file",
	"admin delete agent", "admin delete execution", "admin delete credential", "admin delete file",
	"admin read audit", "admin list audit", "admin update config",
}

_request(roles, action, type, tenant) := {
	"subject": {"tenant": "acme", "user": "u-1", "roles": roles},
	"action": action,
	"resource": {"type": type, "tenant": tenant, "id": "ag-7"},
}

_with_subject(subject) := {
	"subject": subject,
	"action": "read",
	"resource": {"type": "agent", "tenant": "acme", "id": "ag-7"},
}

_with_resource(resource) := {
	"subject": {"tenant": "acme", "user": "u-1", "roles": ["admin"]},
	"action": "read",
	"resource": resource,
}

# Own tenant against other tenant: the allowed case and its denied twin.

test_own_tenant_member_reads_agent_is_allowed if {
	access.decision == reasons.allowed with input as _request(["member"], "read", "agent", "acme")
}

test_cross_tenant_member_reads_agent_is_not_found if {
	access.decision == reasons.deny("not_found") with input as _request(["member"], "read", "agent", "globex")
}

test_cross_tenant_every_action_and_type_is_not_found if {
	every action in _actions {
		every type in _types {
			access.decision == reasons.deny("not_found") with input as _request(["admin"], action, type, "globex")
		}
	}
}

test_cross_tenant_every_role_is_not_found if {
	every roles in [[], ["viewer"], ["member"], ["admin"], ["viewer", "member", "admin"], ["owner"]] {
		every action in _actions {
			access.decision == reasons.deny("not_found") with input as _request(roles, action, "agent", "globex")
		}
	}
}

test_cross_tenant_viewer_delete_is_not_found_never_role_forbidden if {
	access.decision == reasons.deny("not_found") with input as _request(["viewer"], "delete", "agent", "globex")
}

test_own_tenant_viewer_delete_is_role_forbidden if {
	access.decision == reasons.deny("role_forbidden") with input as _request(["viewer"], "delete", "agent", "acme")
}

test_unknown_resource_tenant_is_not_found if {
	access.decision == reasons.deny("not_found") with input as _request(["admin"], "read", "agent", "no-such-tenant")
}

test_prefix_of_own_tenant_is_not_found if {
	every tenant in ["acm", "acme-evil", "acme0", "xacme"] {
		access.decision == reasons.deny("not_found") with input as _request(["admin"], "read", "agent", tenant)
	}
}

# Role matrix: every role, action and type, own tenant.

test_role_matrix_every_readme_grant_is_allowed if {
	every cell in _readme_grants {
		access.decision == reasons.allowed with input as _own_tenant_request(cell)
	}
}

test_role_matrix_every_other_cell_is_role_forbidden if {
	count(_readme_grants) + count(_forbidden_cells) == (3 * count(_actions)) * count(_types)
	every cell in _forbidden_cells {
		access.decision == reasons.deny("role_forbidden") with input as _own_tenant_request(cell)
	}
}

_forbidden_cells contains cell if {
	some role in ["viewer", "member", "admin"]
	some action in _actions
	some type in _types
	cell := concat(" ", [role, action, type])
	not cell in _readme_grants
}

# A request in the subject's own tenant from one "role action type" cell.
_own_tenant_request(cell) := _request([role], action, type, "acme") if {
	[role, action, type] := split(cell, " ")
}

test_admin_deletes_agent_is_allowed if {
	access.decision == reasons.allowed with input as _request(["admin"], "delete", "agent", "acme")
}

test_member_deletes_agent_is_role_forbidden if {
	access.decision == reasons.deny("role_forbidden") with input as _request(["member"], "delete", "agent", "acme")
}

test_admin_reads_audit_is_allowed if {
	access.decision == reasons.allowed with input as _request(["admin"], "read", "audit", "acme")
}

test_viewer_reads_audit_is_role_forbidden if {
	access.decision == reasons.deny("role_forbidden") with input as _request(["viewer"], "read", "audit", "acme")
}

test_admin_updates_config_is_allowed if {
	access.decision == reasons.allowed with input as _request(["admin"], "update", "config", "acme")
}

test_member_updates_config_is_role_forbidden if {
	access.decision == reasons.deny("role_forbidden") with input as _request(["member"], "update", "config", "acme")
}

test_viewer_and_admin_roles_together_delete_is_allowed if {
	access.decision == reasons.allowed with input as _request(["viewer", "admin"], "delete", "file", "acme")
}

test_viewer_and_member_roles_together_delete_is_role_forbidden if {
	roles := ["viewer", "member"]
	access.decision == reasons.deny("role_forbidden") with input as _request(roles, "delete", "file", "acme")
}

test_empty_roles_own_tenant_is_role_forbidden if {
	access.decision == reasons.deny("role_forbidden") with input as _request([], "read", "agent", "acme")
}

test_unknown_roles_grant_nothing_is_role_forbidden if {
	every role in ["owner", "Admin", "ADMIN", "admin ", "root", "*", ""] {
		access.decision == reasons.deny("role_forbidden") with input as _request([role], "read", "agent", "acme")
	}
}

# Subject missing, empty or of the wrong type.

test_missing_subject_is_subject_invalid if {
	access.decision == reasons.deny("subject_invalid") with input as {
		"action": "read",
		"resource": {"type": "agent", "tenant": "acme", "id": "ag-7"},
	}
}

test_empty_input_is_subject_invalid if {
	access.decision == reasons.deny("subject_invalid") with input as {}
}

test_subject_of_wrong_type_is_subject_invalid if {
	every subject in [null, "acme", 1, true, [], ["acme"], {}] {
		access.decision == reasons.deny("subject_invalid") with input as _with_subject(subject)
	}
}

test_missing_subject_tenant_is_subject_invalid if {
	access.decision == reasons.deny("subject_invalid") with input as _with_subject({"roles": ["admin"]})
}

test_subject_tenant_that_is_a_path_or_malformed_is_subject_invalid if {
	every tenant in [
		"", ".", "..", "../other", "acme/..", "acme/", "/acme", "ACME", "Acme", "-acme", " acme", "acme ",
		"acme\n", "acme\u0000", "acme_1", "acme.io", "%2e%2e", "\uff41cme", null, 7, true, ["acme"], {"id": "acme"},
		"a123456789012345678901234567890123456789012345678901234567890123",
	] {
		access.decision == reasons.deny("subject_invalid") with input as _with_subject({"tenant": tenant, "roles": ["admin"]})
	}
}

test_subject_tenant_of_63_characters_is_allowed if {
	tenant := "a12345678901234567890123456789012345678901234567890123456789012"
	access.decision == reasons.allowed with input as {
		"subject": {"tenant": tenant, "roles": ["viewer"]},
		"action": "read",
		"resource": {"type": "agent", "tenant": tenant, "id": "ag-7"},
	}
}

test_roles_missing_or_not_a_list_of_strings_is_subject_invalid if {
	every subject in [
		{"tenant": "acme"},
		{"tenant": "acme", "roles": null},
		{"tenant": "acme", "roles": "admin"},
		{"tenant": "acme", "roles": {"admin": true}},
		{"tenant": "acme", "roles": {"r": "admin"}},
		{"tenant": "acme", "roles": ["admin", 1]},
		{"tenant": "acme", "roles": [["admin"]]},
		{"tenant": "acme", "roles": [null]},
	] {
		access.decision == reasons.deny("subject_invalid") with input as _with_subject(subject)
	}
}

# Action and resource missing or of the wrong type.

test_unknown_or_malformed_action_is_request_invalid if {
	every action in ["", "READ", "Read", "write", "admin", "*", "read ", null, 1, ["read"], {"read": true}] {
		access.decision == reasons.deny("request_invalid") with input as _request(["admin"], action, "agent", "acme")
	}
}

test_missing_action_is_request_invalid if {
	access.decision == reasons.deny("request_invalid") with input as {
		"subject": {"tenant": "acme", "roles": ["admin"]},
		"resource": {"type": "agent", "tenant": "acme", "id": "ag-7"},
	}
}

test_unknown_or_malformed_resource_type_is_request_invalid if {
	every type in ["", "user", "Agent", "agents", "tenant", null, 1, ["agent"]] {
		access.decision == reasons.deny("request_invalid") with input as _request(["admin"], "read", type, "acme")
	}
}

test_resource_missing_or_not_an_object_is_request_invalid if {
	every resource in [null, "agent", 1, [], ["agent", "acme"], {}, {"tenant": "acme", "id": "ag-7"}] {
		access.decision == reasons.deny("request_invalid") with input as _with_resource(resource)
	}
}

test_missing_resource_is_request_invalid if {
	access.decision == reasons.deny("request_invalid") with input as {
		"subject": {"tenant": "acme", "roles": ["admin"]},
		"action": "read",
	}
}

test_resource_tenant_that_is_a_path_or_malformed_is_not_found if {
	every tenant in ["", ".", "..", "../acme", "acme/..", "acme/", "ACME", " acme", "acme\u0000", null, 7, ["acme"]] {
		access.decision == reasons.deny("not_found") with input as _request(["admin"], "read", "agent", tenant)
	}
}

test_missing_resource_tenant_is_not_found if {
	access.decision == reasons.deny("not_found") with input as _with_resource({"type": "agent", "id": "ag-7"})
}

test_resource_tenant_equal_to_subject_is_allowed if {
	access.decision == reasons.allowed with input as _with_resource({"type": "agent", "tenant": "acme"})
}

# Precedence among denials.

test_invalid_subject_wins_over_invalid_request if {
	access.decision == reasons.deny("subject_invalid") with input as {
		"subject": {"tenant": "../globex", "roles": ["admin"]},
		"action": "steal",
		"resource": {"type": "agent", "tenant": "globex"},
	}
}

test_invalid_request_wins_over_cross_tenant if {
	access.decision == reasons.deny("request_invalid") with input as _request(["admin"], "steal", "agent", "globex")
}

test_cross_tenant_wins_over_role_for_every_forbidden_cell if {
	every action in _actions {
		every type in _types {
			access.decision == reasons.deny("not_found") with input as _request([], action, type, "globex")
		}
	}
}

# With an empty catalogue no branch has a value, so only the default is left:
# it must be the library's not_found, and even an allowed request is denied.

test_default_decision_is_the_library_not_found if {
	expected := reasons.deny("not_found")
	access.decision == expected with input as _request(["admin"], "read", "agent", "acme")
		with reasons.catalogue as {}
}
