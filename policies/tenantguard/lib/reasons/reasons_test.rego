package tenantguard.lib.reasons_test

import data.tenantguard.lib.reasons

# The catalogue pinned to the table of policies/README.md, literally.
_expected := {
	"allowed": [200, "allow", "request allowed"],
	"subject_invalid": [401, "input", "the caller's identity is missing or malformed"],
	"request_invalid": [400, "input", "the request is missing a field or has a field of the wrong type"],
	"not_found": [404, "isolation", "resource not found"],
	"role_forbidden": [403, "role", "your roles do not allow this action"],
	"tenant_unconfigured": [403, "input", "your tenant is not configured"],
	"limit_exceeded": [429, "limit", "your tenant has reached its limit for this kind of work"],
	"feature_disabled": [403, "feature", "this feature is not enabled for your tenant"],
	"storage_path_invalid": [400, "storage", "the storage path is not valid"],
}

test_allowed_is_the_whole_allow_decision if {
	reasons.allowed == {
		"allow": true,
		"status": 200,
		"reason": {"code": "allowed", "category": "allow", "message": "request allowed"},
	}
}

test_every_denial_code_gives_the_whole_readme_decision if {
	every code, row in object.remove(_expected, {"allowed"}) {
		reasons.deny(code) == {
			"allow": false,
			"status": row[0],
			"reason": {"code": code, "category": row[1], "message": row[2]},
		}
	}
}

test_catalogue_has_exactly_the_readme_codes if {
	object.keys(reasons.catalogue) == object.keys(_expected)
}

test_deny_of_allowed_is_undefined_never_an_allow if {
	not reasons.deny("allowed")
}

test_deny_of_unknown_code_is_undefined if {
	not reasons.deny("no_such_code")
}

test_messages_are_plain_lowercase_text_without_placeholders if {
	every reason in reasons.catalogue {
		regex.match(`^[a-z' ]+$`, reason.message)
	}
}
