package tenantguard.features_test

import data.tenantguard.features
import data.tenantguard.lib.reasons

_tenants := {
	"acme": {
		"plan": "team",
		"limits": {"max_agents": 10, "max_executions_per_day": 500},
		"features": {
			"code_interpreter": true,
			"web_browsing": false,
			"string_flag": "true",
			"number_flag": 1,
			"object_flag": {"enabled": true},
		},
	},
	"globex": {
		"plan": "enterprise",
		"features": {"code_interpreter": true, "web_browsing": true, "beta_agents": true},
	},
	"initech": {"plan": "free"},
	"hooli": {"plan": "free", "features": ["code_interpreter"]},
	"broken": "not an object",
}

_request(tenant, feature) := {
	"subject": {"tenant": tenant, "user": "u-1", "roles": ["member"]},
	"feature": feature,
}

test_feature_on_is_allowed if {
	features.decision == reasons.allowed with input as _request("acme", "code_interpreter")
		with data.tenants as _tenants
}

test_feature_off_is_feature_disabled if {
	features.decision == reasons.deny("feature_disabled") with input as _request("acme", "web_browsing")
		with data.tenants as _tenants
}

test_feature_absent_is_feature_disabled if {
	features.decision == reasons.deny("feature_disabled") with input as _request("acme", "beta_agents")
		with data.tenants as _tenants
}

test_feature_on_for_another_tenant_only_is_feature_disabled if {
	every feature in ["web_browsing", "beta_agents"] {
		features.decision == reasons.deny("feature_disabled") with input as _request("acme", feature)
			with data.tenants as _tenants
	}
}

test_feature_on_for_that_other_tenant_is_allowed if {
	every feature in ["web_browsing", "beta_agents"] {
		features.decision == reasons.allowed with input as _request("globex", feature)
			with data.tenants as _tenants
	}
}

test_flag_that_is_not_the_boolean_true_is_feature_disabled if {
	every feature in ["string_flag", "number_flag", "object_flag"] {
		features.decision == reasons.deny("feature_disabled") with input as _request("acme", feature)
			with data.tenants as _tenants
	}
}

test_tenant_without_features_or_with_malformed_features_is_feature_disabled if {
	every tenant in ["initech", "hooli"] {
		features.decision == reasons.deny("feature_disabled") with input as _request(tenant, "code_interpreter")
			with data.tenants as _tenants
	}
}

test_feature_name_case_or_path_variant_is_feature_disabled if {
	every feature in ["Code_Interpreter", "code_interpreter ", "code-interpreter", "features.code_interpreter"] {
		features.decision == reasons.deny("feature_disabled") with input as _request("acme", feature)
			with data.tenants as _tenants
	}
}

test_unknown_tenant_is_tenant_unconfigured if {
	features.decision == reasons.deny("tenant_unconfigured") with input as _request("umbrella", "code_interpreter")
		with data.tenants as _tenants
}

test_tenant_entry_not_an_object_is_tenant_unconfigured if {
	features.decision == reasons.deny("tenant_unconfigured") with input as _request("broken", "code_interpreter")
		with data.tenants as _tenants
}

test_no_tenant_data_at_all_is_tenant_unconfigured if {
	features.decision == reasons.deny("tenant_unconfigured") with input as _request("acme", "code_interpreter")
		with data.tenants as {}
}

test_feature_missing_empty_or_of_wrong_type_is_request_invalid if {
	every feature in ["", null, true, 1, ["code_interpreter"], {"code_interpreter": true}] {
		features.decision == reasons.deny("request_invalid") with input as _request("acme", feature)
			with data.tenants as _tenants
	}
}

test_missing_feature_is_request_invalid if {
	features.decision == reasons.deny("request_invalid") with input as {"subject": {"tenant": "acme", "roles": []}}
		with data.tenants as _tenants
}

test_subject_tenant_that_is_a_path_or_malformed_is_subject_invalid if {
	every tenant in ["../globex", ".", "", "ACME", "globex/", null, 1, ["globex"]] {
		features.decision == reasons.deny("subject_invalid") with input as _request(tenant, "web_browsing")
			with data.tenants as _tenants
	}
}

test_missing_or_malformed_subject_is_subject_invalid if {
	every subject in [null, "acme", [], {}, {"tenant": "acme"}, {"tenant": "acme", "roles": [true]}] {
		features.decision == reasons.deny("subject_invalid") with input as {"subject": subject, "feature": "code_interpreter"}
			with data.tenants as _tenants
	}
}

# Precedence among denials.

test_invalid_feature_wins_over_unconfigured_tenant if {
	features.decision == reasons.deny("request_invalid") with input as _request("umbrella", "")
		with data.tenants as _tenants
}

# With an empty catalogue no branch has a value, so only the default is left:
# it must be the library's feature_disabled, and even an allowed request is denied.

test_default_decision_is_the_library_feature_disabled if {
	expected := reasons.deny("feature_disabled")
	features.decision == expected with input as _request("acme", "code_interpreter")
		with data.tenants as _tenants
		with reasons.catalogue as {}
}
