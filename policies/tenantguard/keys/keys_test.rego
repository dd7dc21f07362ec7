package tenantguard.keys_test

import data.tenantguard.keys
import data.tenantguard.lib.reasons

_request(key) := {
	"subject": {"tenant": "acme", "user": "u-1", "roles": ["member"]},
	"key": key,
}

_with_subject(subject) := {
	"subject": subject,
	"key": {"tenant": "acme", "id": "k-3"},
}

test_own_key_is_allowed if {
	keys.decision == reasons.allowed with input as _request({"tenant": "acme", "id": "k-3"})
}

test_other_tenant_key_is_not_found if {
	keys.decision == reasons.deny("not_found") with input as _request({"tenant": "globex", "id": "k-3"})
}

test_unknown_or_lookalike_tenant_key_is_not_found if {
	every tenant in ["no-such-tenant", "acme-evil", "acm", "xacme"] {
		keys.decision == reasons.deny("not_found") with input as _request({"tenant": tenant, "id": "k-3"})
	}
}

test_own_key_with_no_roles_is_allowed if {
	keys.decision == reasons.allowed with input as {
		"subject": {"tenant": "acme", "roles": []},
		"key": {"tenant": "acme", "id": "k-3"},
	}
}

test_other_tenant_key_with_no_roles_is_not_found if {
	keys.decision == reasons.deny("not_found") with input as {
		"subject": {"tenant": "acme", "roles": []},
		"key": {"tenant": "globex", "id": "k-3"},
	}
}

test_key_tenant_that_is_a_path_or_malformed_is_not_found if {
	every tenant in ["", ".", "..", "../acme", "acme/..", "acme/", "ACME", " acme", "acme\u0000", null, 3, ["acme"]] {
		keys.decision == reasons.deny("not_found") with input as _request({"tenant": tenant, "id": "k-3"})
	}
}

test_missing_key_tenant_is_not_found if {
	keys.decision == reasons.deny("not_found") with input as _request({"id": "k-3"})
}

test_key_id_missing_empty_or_of_wrong_type_is_request_invalid if {
	every key in [
		{"tenant": "acme"},
		{"tenant": "acme", "id": ""},
		{"tenant": "acme", "id": null},
		{"tenant": "acme", "id": 3},
		{"tenant": "acme", "id": ["k-3"]},
		{"tenant": "acme", "id": {"id": "k-3"}},
	] {
		keys.decision == reasons.deny("request_invalid") with input as _request(key)
	}
}

test_key_not_an_object_is_request_invalid if {
	every key in [null, "k-3", "acme/k-3", 3, [], ["acme", "k-3"]] {
		keys.decision == reasons.deny("request_invalid") with input as _request(key)
	}
}

test_missing_key_is_request_invalid if {
	keys.decision == reasons.deny("request_invalid") with input as {"subject": {"tenant": "acme", "roles": []}}
}

test_subject_tenant_that_is_a_path_or_malformed_is_subject_invalid if {
	every tenant in ["../other", ".", "", "ACME", "acme/", null, 1, ["acme"]] {
		keys.decision == reasons.deny("subject_invalid") with input as _with_subject({"tenant": tenant, "roles": []})
	}
}

test_missing_or_malformed_subject_is_subject_invalid if {
	every subject in [null, "acme", [], {}, {"tenant": "acme"}, {"tenant": "acme", "roles": "member"}] {
		keys.decision == reasons.deny("subject_invalid") with input as _with_subject(subject)
	}
}

test_missing_subject_is_subject_invalid if {
	keys.decision == reasons.deny("subject_invalid") with input as {"key": {"tenant": "acme", "id": "k-3"}}
}

# Precedence among denials.

test_invalid_subject_wins_over_invalid_key if {
	keys.decision == reasons.deny("subject_invalid") with input as {"subject": {"tenant": "."}, "key": "k-3"}
}

test_invalid_key_id_wins_over_cross_tenant if {
	keys.decision == reasons.deny("request_invalid") with input as _request({"tenant": "globex", "id": ""})
}

# With an empty catalogue no branch has a value, so only the default is left:
# it must be the library's not_found, and even an allowed request is denied.

test_default_decision_is_the_library_not_found if {
	expected := reasons.deny("not_found")
	keys.decision == expected with input as _request({"tenant": "acme", "id": "k-3"})
		with reasons.catalogue as {}
}
