# METADATA
# title: Access rules
# description: |
#   May this subject do this action on this resource? Only inside the subject's
#   own tenant, and only when one of its roles grants the action on the type.
package tenantguard.access

import data.tenantguard.lib.reasons
import data.tenantguard.lib.subject

# METADATA
# title: Access decision
# description: |
#   Exactly one decision, always defined. Denials in order of precedence:
#   subject_invalid, request_invalid, not_found (another or an unknown tenant's
#   resource; checked before roles, so a 403 never confirms a foreign object),
#   role_forbidden. The default is not_found: it tells the caller nothing.
#   It is a literal because OPA requires default values to be ground; the
#   tests hold it equal to reasons.deny("not_found").
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
} else := reasons.deny("role_forbidden") if {
	not _granted
} else := reasons.allowed if {
	_request_valid
	_same_tenant
	_granted
}

_actions := {"read", "list", "create", "update", "delete", "execute"}

_resource_types := {"agent", "execution", "credential", "file", "config", "audit"}

_viewer_types := {"agent", "execution", "credential", "file", "config"}

_member_types := {"agent", "execution", "credential", "file"}

# Role grants, as in policies/README.md: role -> action -> resource types.
# Unknown roles and actions have no entry here and grant nothing.
_grants := {
	"viewer": {
		"read": _viewer_types,
		"list": _viewer_types,
	},
	"member": {
		"read": _viewer_types,
		"list": _viewer_types,
		"create": _member_types,
		"update": _member_types,
		"execute": _member_types,
	},
	"admin": {
		"read": (_viewer_types | {"audit"}),
		"list": (_viewer_types | {"audit"}),
		"create": _member_types,
		"update": (_member_types | {"config"}),
		"execute": _member_types,
		"delete": _member_types,
	},
}

_request_valid if {
	input.action in _actions
	is_object(input.resource)
	input.resource.type in _resource_types
}

# The positive fact: the subject's tenant is established, valid and equals the
# resource's tenant. Its absence is not_found.
_same_tenant if {
	subject.valid
	tenant := input.resource.tenant
	subject.valid_tenant_id(tenant)
	tenant == input.subject.tenant
}

_granted if {
	some role in input.subject.roles
	input.resource.type in _grants[role][input.action]
}
