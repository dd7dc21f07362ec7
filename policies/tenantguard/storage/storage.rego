# METADATA
# title: Storage path rules
# description: |
#   May this subject read, write or delete this storage path? A path is allowed
#   only when it is exactly storage/tenants/{subject.tenant}/<segments>, every
#   segment drawn from a strict ASCII allow-list. Roles map as for files:
#   viewer reads; member also writes; admin also deletes.
package tenantguard.storage

import data.tenantguard.lib.reasons
import data.tenantguard.lib.subject

# METADATA
# title: Storage decision
# description: |
#   Exactly one decision, always defined. Denials in order of precedence:
#   subject_invalid, request_invalid (action or path missing or of the wrong
#   type), storage_path_invalid (malformed, decided on the text alone),
#   not_found (a well-formed path under another tenant's root), role_forbidden.
#   The default is not_found: it tells the caller nothing. It is a literal
#   because OPA requires default values to be ground; the tests hold it equal
#   to reasons.deny("not_found").
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
} else := reasons.deny("storage_path_invalid") if {
	not _path_well_formed
} else := reasons.deny("not_found") if {
	not _same_tenant
} else := reasons.deny("role_forbidden") if {
	not _granted
} else := reasons.allowed if {
	_request_valid
	_same_tenant
	_granted
}

# Unknown roles have no entry here and grant nothing.
_grants := {
	"viewer": {"read"},
	"member": {"read", "write"},
	"admin": {"read", "write", "delete"},
}

_request_valid if {
	input.action in {"read", "write", "delete"}
	is_string(input.path)
}

# The whole path is printable ASCII from a short allow-list, so a backslash,
# "%" (any URL encoding), NUL, whitespace or a Unicode look-alike (U+2215,
# U+FF0E) cannot appear. Then: no leading "/", no empty segment, the fixed
# root, a valid tenant ID, and at least one file segment below it.
_path_well_formed if {
	regex.match(`^[A-Za-z0-9._/-]+$`, input.path)
	parts := split(input.path, "/")
	count(parts) > 3
	parts[0] == "storage"
	parts[1] == "tenants"
	subject.valid_tenant_id(parts[2])
	every segment in array.slice(parts, 3, count(parts)) {
		_valid_segment(segment)
	}
}

# The first character cannot be "." so "." and ".." (and "....") never pass;
# a trailing "." is refused because some filesystems drop it.
_valid_segment(segment) if {
	regex.match(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,254}$`, segment)
	not endswith(segment, ".")
}

# The positive fact: the subject's tenant is established, valid and owns the
# root the (well-formed) path lies under. Its absence is not_found.
_same_tenant if {
	subject.valid
	_path_well_formed
	split(input.path, "/")[2] == input.subject.tenant
}

_granted if {
	some role in input.subject.roles
	input.action in _grants[role]
}
