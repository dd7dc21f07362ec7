# METADATA
# title: Subject checks shared by every tenant rule
# description: |
#   What makes a subject established: an object whose tenant is a valid tenant
#   ID and whose roles are a list of strings. Kept in one place so that the
#   tenant ID format cannot drift between packages.
package tenantguard.lib.subject

# METADATA
# title: Valid tenant ID
# description: |
#   A string of 1-63 characters of a-z, 0-9 and '-', starting with a letter or
#   digit, so a tenant ID can never be a path ("..", ".", "", "a/b").
valid_tenant_id(tenant) if {
	is_string(tenant)
	regex.match(`^[a-z0-9][a-z0-9-]{0,62}$`, tenant)
}

# METADATA
# title: Valid subject
# description: The input's subject is established; its absence denies.
valid if {
	is_object(input.subject)
	valid_tenant_id(input.subject.tenant)
	is_array(input.subject.roles)
	every role in input.subject.roles {
		is_string(role)
	}
}
