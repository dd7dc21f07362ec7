# METADATA
# title: Limit rules
# description: |
#   Is the subject's tenant under its limit for this kind of work? The limit is
#   read from data.tenants[tenant].limits: kind "agents" reads max_agents,
#   "executions_per_day" reads max_executions_per_day.
package tenantguard.limits

import data.tenantguard.lib.reasons
import data.tenantguard.lib.subject

# METADATA
# title: Limit decision
# description: |
#   Exactly one decision, always defined. Denials in order of precedence:
#   subject_invalid, request_invalid (unknown kind; current not a whole number
#   from 0 to 2^53 - 1), tenant_unconfigured (no entry in data.tenants, or no
#   valid limit for the kind), limit_exceeded (current at or over the limit).
#   The default is limit_exceeded: no capacity, the plain "no" of this package.
#   It is a literal because OPA requires default values to be ground; the
#   tests hold it equal to reasons.deny("limit_exceeded").
# scope: document
# entrypoint: true
default decision := {
	"allow": false,
	"status": 429,
	"reason": {
		"code": "limit_exceeded",
		"category": "limit",
		"message": "your tenant has reached its limit for this kind of work",
	},
}

decision := reasons.deny("subject_invalid") if {
	not subject.valid
} else := reasons.deny("request_invalid") if {
	not _request_valid
} else := reasons.deny("tenant_unconfigured") if {
	not _limit
} else := reasons.deny("limit_exceeded") if {
	not _under_limit
} else := reasons.allowed if {
	_request_valid
	_under_limit
}

_limit_keys := {
	"agents": "max_agents",
	"executions_per_day": "max_executions_per_day",
}

_request_valid if {
	is_object(input.usage)
	is_string(_limit_keys[input.usage.kind])
	_is_count(input.usage.current)
}

# A whole number from 0 to 2^53 - 1. "> -1" rather than ">= 0" because regopy
# holds -0 < 0; the upper bound because regopy's floor wraps past 2^63 while
# OPA's does not, so larger numbers would be decided differently. A number
# written with a negative exponent is refused before any arithmetic, because
# regopy's arithmetic on floats near 1e-308 yields no answer at all; a whole
# number written so (100e-2) is refused too: counts are written plainly.
_is_count(n) if {
	is_number(n)
	not regex.match(`[eE]-`, json.marshal(n))
	n > -1
	n <= 9007199254740991
	floor(n) == n
}

_limit := limit if {
	subject.valid
	limit := data.tenants[input.subject.tenant].limits[_limit_keys[input.usage.kind]]
	_is_count(limit)
}

# The positive fact: the subject's own tenant has a valid limit for this kind
# and the usage is below it.
_under_limit if {
	input.usage.current < _limit
}
