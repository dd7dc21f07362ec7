# METADATA
# title: Reason catalogue
# description: |
#   The one place where reasons and whole decisions are built. A policy picks a
#   reason by its stable code; every message is a constant that is safe to show
#   to the tenant (it never names another tenant, object, path or secret).
package tenantguard.lib.reasons

# METADATA
# title: Reasons by code
# description: |
#   Every reason a tenant rule may give, keyed by its code. Codes are never
#   renamed once shipped; the status and category follow policies/README.md.
catalogue := {
	"allowed": {
		"status": 200,
		"category": "allow",
		"message": "request allowed",
	},
	"subject_invalid": {
		"status": 401,
		"category": "input",
		"message": "the caller's identity is missing or malformed",
	},
	"request_invalid": {
		"status": 400,
		"category": "input",
		"message": "the request is missing a field or has a field of the wrong type",
	},
	"not_found": {
		"status": 404,
		"category": "isolation",
		"message": "resource not found",
	},
	"role_forbidden": {
		"status": 403,
		"category": "role",
		"message": "your roles do not allow this action",
	},
	"tenant_unconfigured": {
		"status": 403,
		"category": "input",
		"message": "your tenant is not configured",
	},
	"limit_exceeded": {
		"status": 429,
		"category": "limit",
		"message": "your tenant has reached its limit for this kind of work",
	},
	"feature_disabled": {
		"status": 403,
		"category": "feature",
		"message": "this feature is not enabled for your tenant",
	},
	"storage_path_invalid": {
		"status": 400,
		"category": "storage",
		"message": "the storage path is not valid",
	},
}

# METADATA
# title: Allowed decision
# description: The one decision that admits a request.
allowed := _decision("allowed", true)

# METADATA
# title: Denial by code
# description: |
#   The whole denying decision for a reason code of the catalogue. Undefined for
#   "allowed" and for an unknown code, so a typo can never produce an allow.
deny(code) := _decision(code, false) if code != "allowed"

_decision(code, allow) := {
	"allow": allow,
	"status": reason.status,
	"reason": {
		"code": code,
		"category": reason.category,
		"message": reason.message,
	},
} if {
	reason := catalogue[code]
}
