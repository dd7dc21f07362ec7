package tenantguard.limits_test

import data.tenantguard.lib.reasons
import data.tenantguard.limits

_tenants := {
	"acme": {
		"plan": "team",
		"limits": {"max_agents": 10, "max_executions_per_day": 500},
	},
	"globex": {
		"plan": "enterprise",
		"limits": {"max_agents": 100, "max_executions_per_day": 10000},
	},
	"initech": {
		"plan": "free",
		"limits": {"max_agents": 1, "max_executions_per_day": 0},
	},
	"hooli": {"plan": "free"},
	"pied-piper": {
		"plan": "free",
		"limits": {"max_agents": "10", "max_executions_per_day": -1},
	},
	"umbrella": {
		"plan": "free",
		"limits": {"max_agents": 10.5, "max_executions_per_day": null},
	},
	"broken": "not an object",
}

_request(tenant, kind, current) := {
	"subject": {"tenant": tenant, "user": "u-1", "roles": ["member"]},
	"usage": {"kind": kind, "current": current},
}

# Boundaries: limit - 1, limit, limit + 1.

test_agents_one_below_limit_is_allowed if {
	limits.decision == reasons.allowed with input as _request("acme", "agents", 9)
		with data.tenants as _tenants
}

test_agents_at_limit_is_limit_exceeded if {
	limits.decision == reasons.deny("limit_exceeded") with input as _request("acme", "agents", 10)
		with data.tenants as _tenants
}

test_agents_one_over_limit_is_limit_exceeded if {
	limits.decision == reasons.deny("limit_exceeded") with input as _request("acme", "agents", 11)
		with data.tenants as _tenants
}

test_executions_one_below_limit_is_allowed if {
	limits.decision == reasons.allowed with input as _request("acme", "executions_per_day", 499)
		with data.tenants as _tenants
}

test_executions_at_limit_is_limit_exceeded if {
	limits.decision == reasons.deny("limit_exceeded") with input as _request("acme", "executions_per_day", 500)
		with data.tenants as _tenants
}

test_executions_one_over_limit_is_limit_exceeded if {
	limits.decision == reasons.deny("limit_exceeded") with input as _request("acme", "executions_per_day", 501)
		with data.tenants as _tenants
}

test_zero_usage_is_allowed if {
	limits.decision == reasons.allowed with input as _request("acme", "agents", 0)
		with data.tenants as _tenants
}

test_zero_limit_denies_even_zero_usage_is_limit_exceeded if {
	limits.decision == reasons.deny("limit_exceeded") with input as _request("initech", "executions_per_day", 0)
		with data.tenants as _tenants
}

test_whole_number_written_as_float_is_counted if {
	limits.decision == reasons.allowed with input as _request("acme", "agents", 9.0)
		with data.tenants as _tenants
}

test_largest_safe_integer_is_limit_exceeded if {
	limits.decision == reasons.deny("limit_exceeded") with input as _request("acme", "agents", 9007199254740991)
		with data.tenants as _tenants
}

# Isolation: a tenant is measured against its own limit only.

test_usage_under_another_tenants_larger_limit_is_limit_exceeded if {
	limits.decision == reasons.deny("limit_exceeded") with input as _request("acme", "agents", 50)
		with data.tenants as _tenants
}

test_same_usage_under_own_larger_limit_is_allowed if {
	limits.decision == reasons.allowed with input as _request("globex", "agents", 50)
		with data.tenants as _tenants
}

test_tenant_named_in_usage_is_ignored_is_limit_exceeded if {
	limits.decision == reasons.deny("limit_exceeded") with input as {
		"subject": {"tenant": "acme", "roles": ["member"]},
		"usage": {"kind": "agents", "current": 50, "tenant": "globex"},
	}
		with data.tenants as _tenants
}

# Usage missing or of the wrong type.

test_negative_or_fractional_usage_is_request_invalid if {
	every current in [-1, -0.5, -100, 9.5, 0.1, 1.0e-3] {
		limits.decision == reasons.deny("request_invalid") with input as _request("acme", "agents", current)
			with data.tenants as _tenants
	}
}

test_usage_near_the_smallest_float_is_request_invalid if {
	every current in [1e-300, 2.2250738585072014e-308, 1.1125369292536007e-308, 5e-324, 1E-5] {
		limits.decision == reasons.deny("request_invalid") with input as _request("acme", "agents", current)
			with data.tenants as _tenants
	}
}

test_usage_past_the_safe_integer_range_is_request_invalid if {
	every current in [9007199254740992, 1e20, 1e308] {
		limits.decision == reasons.deny("request_invalid") with input as _request("acme", "agents", current)
			with data.tenants as _tenants
	}
}

test_usage_of_wrong_type_is_request_invalid if {
	every current in ["9", "", null, true, [9], {"n": 9}] {
		limits.decision == reasons.deny("request_invalid") with input as _request("acme", "agents", current)
			with data.tenants as _tenants
	}
}

test_missing_current_is_request_invalid if {
	limits.decision == reasons.deny("request_invalid") with input as {
		"subject": {"tenant": "acme", "roles": ["member"]},
		"usage": {"kind": "agents"},
	}
		with data.tenants as _tenants
}

test_unknown_or_malformed_kind_is_request_invalid if {
	every kind in ["", "cpu", "AGENTS", "max_agents", "agents ", null, 1, ["agents"]] {
		limits.decision == reasons.deny("request_invalid") with input as _request("acme", kind, 1)
			with data.tenants as _tenants
	}
}

test_usage_missing_or_not_an_object_is_request_invalid if {
	every usage in [null, 5, "agents", [], ["agents", 5], {}] {
		limits.decision == reasons.deny("request_invalid") with input as {
			"subject": {"tenant": "acme", "roles": []},
			"usage": usage,
		}
			with data.tenants as _tenants
	}
}

test_missing_usage_is_request_invalid if {
	limits.decision == reasons.deny("request_invalid") with input as {"subject": {"tenant": "acme", "roles": []}}
		with data.tenants as _tenants
}

# Tenant configuration missing or malformed.

test_unknown_tenant_is_tenant_unconfigured if {
	limits.decision == reasons.deny("tenant_unconfigured") with input as _request("no-such-tenant", "agents", 0)
		with data.tenants as _tenants
}

test_no_tenant_data_at_all_is_tenant_unconfigured if {
	limits.decision == reasons.deny("tenant_unconfigured") with input as _request("acme", "agents", 0)
		with data.tenants as {}
}

test_tenant_without_limits_is_tenant_unconfigured if {
	every kind in ["agents", "executions_per_day"] {
		limits.decision == reasons.deny("tenant_unconfigured") with input as _request("hooli", kind, 0)
			with data.tenants as _tenants
	}
}

test_malformed_configured_limit_is_tenant_unconfigured if {
	every tenant in ["pied-piper", "umbrella", "broken"] {
		every kind in ["agents", "executions_per_day"] {
			limits.decision == reasons.deny("tenant_unconfigured") with input as _request(tenant, kind, 0)
				with data.tenants as _tenants
		}
	}
}

# Subject missing or malformed.

test_subject_tenant_that_is_a_path_or_malformed_is_subject_invalid if {
	every tenant in ["../globex", ".", "", "ACME", "globex/", null, 1, ["globex"]] {
		limits.decision == reasons.deny("subject_invalid") with input as _request(tenant, "agents", 0)
			with data.tenants as _tenants
	}
}

test_missing_or_malformed_subject_is_subject_invalid if {
	every subject in [null, "acme", [], {}, {"tenant": "acme"}, {"tenant": "acme", "roles": [{}]}] {
		limits.decision == reasons.deny("subject_invalid") with input as {
			"subject": subject,
			"usage": {"kind": "agents", "current": 0},
		}
			with data.tenants as _tenants
	}
}

# Precedence among denials.

test_invalid_usage_wins_over_unconfigured_tenant if {
	limits.decision == reasons.deny("request_invalid") with input as _request("no-such-tenant", "agents", -1)
		with data.tenants as _tenants
}

test_unconfigured_tenant_wins_over_usage if {
	limits.decision == reasons.deny("tenant_unconfigured") with input as _request("hooli", "agents", 1000)
		with data.tenants as _tenants
}

# With an empty catalogue no branch has a value, so only the default is left:
# it must be the library's limit_exceeded, and even an allowed request is denied.

test_default_decision_is_the_library_limit_exceeded if {
	expected := reasons.deny("limit_exceeded")
	limits.decision == expected with input as _request("acme", "agents", 0)
		with data.tenants as _tenants
		with reasons.catalogue as {}
}
