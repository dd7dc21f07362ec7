# METADATA
# title: Key rules
# description: |
#   May this subject use this key? Only a key of the subject's own tenant.
#   Another tenant's key is indistinguishable from a key that does not exist.
package tenantguard.keys

import data.tenantguard.lib.reasons
import data.tenantguard.lib.subject

# METADATA
# title: Key decision
# description: |
#   Exactly one decision, always defined. Denials in order of precedence:
#   subject_invalid, request_invalid (key not an object, id not a non-empty
#   string), not_found (the key's tenant is another tenant or not a valid
#   tenant ID). The default is not_found: it tells the caller nothing. It is a
#   literal because OPA requires default values to be ground; the tests hold
#   it equal to reasons.deny("not_found").
# scope: document
# entrypoint: true
default decision := {
	"allow": false,
	"status": 404,
	"reason": {
		"code": "not_found",
		"category": "isolation",
		"message": "resource not found",
	},
}

decision := reasons.deny("subject_invalid") if {
	not subject.valid
} else := reasons.deny("request_invalid") if {
	not _request_valid
} else := reasons.deny("not_found") if {
	not _same_tenant
} else := reasons.allowed if {
	_request_valid
	_same_tenant
}

_request_valid if {
	is_object(input.key)
	is_string(input.key.id)
	input.key.id != ""
}

# The positive fact: the subject's tenant is established, valid and equals the
# key's tenant. Its absence is not_found.
_same_tenant if {
	subject.valid
	tenant := input.key.tenant
	subject.valid_tenant_id(tenant)
	tenant == input.subject.tenant
}
