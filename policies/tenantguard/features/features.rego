# METADATA
# title: Feature rules
# description: |
#   Is this feature enabled for the subject's tenant? Only when
#   data.tenants[tenant].features[feature] is the boolean true; a flag that is
#   false, absent or of any other type is off.
package tenantguard.features

import data.tenantguard.lib.reasons
import data.tenantguard.lib.subject

# METADATA
# title: Feature decision
# description: |
#   Exactly one decision, always defined. Denials in order of precedence:
#   subject_invalid, request_invalid (feature not a non-empty string),
#   tenant_unconfigured (no entry in data.tenants), feature_disabled. The
#   default is feature_disabled, the plain "no" of this package. It is a
#   literal because OPA requires default values to be ground; the tests hold
#   it equal to reasons.deny("feature_disabled").
# scope: document
# entrypoint: true
default decision := {
	"allow": false,
	"status": 403,
	"reason": {
		"code": "feature_disabled",
		"category": "feature",
		"message": "this feature is not enabled for your tenant",
	},
}

decision := reasons.deny("subject_invalid") if {
	not subject.valid
} else := reasons.deny("request_invalid") if {
	not _request_valid
} else := reasons.deny("tenant_unconfigured") if {
	not _tenant_configured
} else := reasons.deny("feature_disabled") if {
	not _enabled
} else := reasons.allowed if {
	_request_valid
	_enabled
}

_request_valid if {
	is_string(input.feature)
	input.feature != ""
}

_tenant_configured if {
	subject.valid
	is_object(data.tenants[input.subject.tenant])
}

# The positive fact: the subject's own tenant is configured and its flag for
# this feature is exactly true.
_enabled if {
	_tenant_configured
	data.tenants[input.subject.tenant].features[input.feature] == true
}
