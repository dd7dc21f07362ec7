package tenantguard.storage_test

import data.tenantguard.lib.reasons
import data.tenantguard.storage

_request(roles, action, path) := {
	"subject": {"tenant": "acme", "user": "u-1", "roles": roles},
	"action": action,
	"path": path,
}

_admin_reads(path) := _request(["admin"], "read", path)

_own_file := "storage/tenants/acme/x"

# A segment of `length` characters from the allow-list.
_segment(length) := concat("", [c | some _ in numbers.range(1, length); c := "a"])

# Own root against another tenant's root: allowed cases and their denied twins.

test_own_root_file_read_is_allowed if {
	storage.decision == reasons.allowed with input as _admin_reads("storage/tenants/acme/files/report.txt")
}

test_other_tenant_root_file_read_is_not_found if {
	storage.decision == reasons.deny("not_found") with input as _admin_reads("storage/tenants/globex/files/report.txt")
}

test_well_formed_own_paths_are_allowed if {
	every path in [
		"storage/tenants/acme/report.txt",
		"storage/tenants/acme/a/b/c/archive.tar.gz",
		"storage/tenants/acme/_private/x-y_z.v2",
		"storage/tenants/acme/x..y",
		"storage/tenants/acme/0",
	] {
		storage.decision == reasons.allowed with input as _admin_reads(path)
	}
}

test_other_tenant_root_every_action_is_not_found if {
	every action in ["read", "write", "delete"] {
		storage.decision == reasons.deny("not_found") with input as _request(["admin"], action, "storage/tenants/globex/x")
	}
}

test_other_tenant_root_viewer_delete_is_not_found_never_role_forbidden if {
	storage.decision == reasons.deny("not_found") with input as _request(["viewer"], "delete", "storage/tenants/globex/x")
}

test_other_tenant_root_no_roles_is_not_found_never_role_forbidden if {
	storage.decision == reasons.deny("not_found") with input as _request([], "write", "storage/tenants/globex/x")
}

test_unknown_or_lookalike_tenant_root_is_not_found if {
	every path in [
		"storage/tenants/no-such-tenant/x",
		"storage/tenants/acme-evil/x",
		"storage/tenants/acm/x",
		"storage/tenants/acme0/x",
		"storage/tenants/xacme/x",
	] {
		storage.decision == reasons.deny("not_found") with input as _admin_reads(path)
	}
}

# Role matrix, own root: viewer reads; member also writes; admin also deletes.

test_viewer_reads_is_allowed if {
	storage.decision == reasons.allowed with input as _request(["viewer"], "read", _own_file)
}

test_viewer_writes_is_role_forbidden if {
	storage.decision == reasons.deny("role_forbidden") with input as _request(["viewer"], "write", _own_file)
}

test_viewer_deletes_is_role_forbidden if {
	storage.decision == reasons.deny("role_forbidden") with input as _request(["viewer"], "delete", _own_file)
}

test_member_reads_and_writes_is_allowed if {
	every action in ["read", "write"] {
		storage.decision == reasons.allowed with input as _request(["member"], action, _own_file)
	}
}

test_member_deletes_is_role_forbidden if {
	storage.decision == reasons.deny("role_forbidden") with input as _request(["member"], "delete", _own_file)
}

test_admin_every_action_is_allowed if {
	every action in ["read", "write", "delete"] {
		storage.decision == reasons.allowed with input as _request(["admin"], action, _own_file)
	}
}

test_no_roles_or_unknown_roles_is_role_forbidden if {
	every roles in [[], ["owner"], ["Admin"], ["storage-admin"], [""]] {
		storage.decision == reasons.deny("role_forbidden") with input as _request(roles, "read", _own_file)
	}
}

# Attacks of group E: every malformed path is storage_path_invalid, whoever's root it aims at.

test_dot_dot_traversal_is_storage_path_invalid if {
	every path in [
		"storage/tenants/acme/../globex/x",
		"storage/tenants/acme/files/../../globex/x",
		"storage/tenants/acme/..",
		"storage/tenants/acme/../../../etc/passwd",
		"storage/tenants/../tenants/globex/x",
		"storage/tenants/globex/../acme/x",
		"../storage/tenants/acme/x",
		"storage/../storage/tenants/acme/x",
		"storage/tenants/acme/./x",
		"storage/tenants/acme/.",
	] {
		storage.decision == reasons.deny("storage_path_invalid") with input as _admin_reads(path)
	}
}

test_url_encoded_traversal_is_storage_path_invalid if {
	every path in [
		"storage/tenants/acme/%2e%2e/globex/x",
		"storage/tenants/acme/%2E%2E%2Fglobex%2Fx",
		"storage/tenants/acme/..%2fglobex/x",
		"storage/tenants/acme/%2e%2e%5cglobex",
		"storage/tenants/acme/report%00.txt",
		"storage/tenants/acme/a%20b",
		"storage%2ftenants%2fglobex%2fx",
	] {
		storage.decision == reasons.deny("storage_path_invalid") with input as _admin_reads(path)
	}
}

test_double_encoded_traversal_is_storage_path_invalid if {
	every path in [
		"storage/tenants/acme/%252e%252e/globex/x",
		"storage/tenants/acme/%252e%252e%252fglobex",
		"storage/tenants/acme/%25252e%25252e/x",
	] {
		storage.decision == reasons.deny("storage_path_invalid") with input as _admin_reads(path)
	}
}

test_overlong_utf8_traversal_is_storage_path_invalid if {
	every path in [
		"storage/tenants/acme/%c0%ae%c0%ae/globex/x",
		"storage/tenants/acme/%c0%2e%c0%2e/x",
		"storage/tenants/acme/%e0%80%ae%e0%80%ae/x",
		"storage/tenants/acme/..%c0%afglobex",
		"storage/tenants/acme/..%c1%9cglobex",
	] {
		storage.decision == reasons.deny("storage_path_invalid") with input as _admin_reads(path)
	}
}

test_unicode_lookalike_traversal_is_storage_path_invalid if {
	every path in [
		"storage/tenants/acme/..\u2215globex\u2215x", # DIVISION SLASH
		"storage/tenants/acme/\uff0e\uff0e/globex/x", # FULLWIDTH FULL STOP
		"storage/tenants/acme/..\uff0fglobex", # FULLWIDTH SOLIDUS
		"storage/tenants/acme/..\u2044globex", # FRACTION SLASH
		"storage/tenants/acme/\u2024\u2024/x", # ONE DOT LEADER
		"storage/tenants/acme/\u2025/x", # TWO DOT LEADER
		"storage/tenants/acme/x\u200b", # ZERO WIDTH SPACE
		"storage\u2215tenants\u2215globex\u2215x",
		"storage/tenants/\u0430cme/x", # CYRILLIC SMALL LETTER A
		"storage/tenants/acme/r\u00e9sum\u00e9.txt",
	] {
		storage.decision == reasons.deny("storage_path_invalid") with input as _admin_reads(path)
	}
}

test_backslash_path_is_storage_path_invalid if {
	every path in [
		"storage\\tenants\\globex\\x",
		"storage/tenants/acme/..\\globex\\x",
		"storage/tenants/acme/..\\..\\globex",
		"storage/tenants/acme/x\\y",
		"storage/tenants/acme\\..\\globex/x",
	] {
		storage.decision == reasons.deny("storage_path_invalid") with input as _admin_reads(path)
	}
}

test_absolute_path_is_storage_path_invalid if {
	every path in [
		"/etc/passwd",
		"/storage/tenants/acme/x",
		"//storage/tenants/acme/x",
		"C:/Windows/win.ini",
		"file:///etc/passwd",
		"~/x",
	] {
		storage.decision == reasons.deny("storage_path_invalid") with input as _admin_reads(path)
	}
}

test_nul_byte_path_is_storage_path_invalid if {
	every path in [
		"storage/tenants/acme/report.txt\u0000.png",
		"storage/tenants/acme/report.txt\u0000",
		"storage/tenants/acme\u0000/x",
		"\u0000",
	] {
		storage.decision == reasons.deny("storage_path_invalid") with input as _admin_reads(path)
	}
}

test_trailing_dot_or_space_is_storage_path_invalid if {
	every path in [
		"storage/tenants/acme/report.txt.",
		"storage/tenants/acme/report.txt ",
		"storage/tenants/acme/report.txt. ",
		"storage/tenants/acme/files./x",
		"storage/tenants/acme/files /x",
		"storage/tenants/acme/report..",
		" storage/tenants/acme/x",
		"storage/tenants/acme/x\n",
		"storage/tenants/acme/x\t",
	] {
		storage.decision == reasons.deny("storage_path_invalid") with input as _admin_reads(path)
	}
}

test_filter_stripping_bypass_is_storage_path_invalid if {
	every path in [
		"storage/tenants/acme/....//globex/x",
		"storage/tenants/acme/....//....//x",
		"storage/tenants/acme/..././x",
		"storage/tenants/acme/...",
		"storage/tenants/acme/.../x",
		"storage/tenants/acme/....\\/x",
	] {
		storage.decision == reasons.deny("storage_path_invalid") with input as _admin_reads(path)
	}
}

test_tenant_id_that_is_a_path_is_storage_path_invalid if {
	every path in [
		"storage/tenants/../other/x",
		"storage/tenants/./x",
		"storage/tenants//x",
		"storage/tenants/ACME/x",
		"storage/tenants/Acme/x",
		"storage/tenants/-acme/x",
		"storage/tenants/acme_1/x",
		"storage/tenants/a1234567890123456789012345678901234567890123456789012345678901234/x",
	] {
		storage.decision == reasons.deny("storage_path_invalid") with input as _admin_reads(path)
	}
}

test_tenant_root_without_a_file_segment_is_storage_path_invalid if {
	every path in [
		"storage/tenants/acme",
		"storage/tenants/acme/",
		"storage/tenants/acme//",
		"storage/tenants/acme//x",
		"storage/tenants/acme/x/",
		"storage/tenants/acme/x//y",
		"storage/tenants",
		"storage/tenants/",
		"storage",
		"",
	] {
		storage.decision == reasons.deny("storage_path_invalid") with input as _admin_reads(path)
	}
}

test_other_root_or_uppercase_root_is_storage_path_invalid if {
	every path in [
		"STORAGE/tenants/acme/x",
		"Storage/tenants/acme/x",
		"storage/TENANTS/acme/x",
		"storage/tenant/acme/x",
		"storage/other/acme/x",
		"data/tenants/acme/x",
		"tenants/acme/x",
		"acme/x",
		"storage/tenants-acme/x",
	] {
		storage.decision == reasons.deny("storage_path_invalid") with input as _admin_reads(path)
	}
}

test_hidden_or_odd_segment_is_storage_path_invalid if {
	every path in [
		"storage/tenants/acme/.env",
		"storage/tenants/acme/-rf",
		"storage/tenants/acme/x?y=1",
		"storage/tenants/acme/x#y",
		"storage/tenants/acme/x:stream",
		"storage/tenants/acme/*",
		"storage/tenants/acme/x;y",
	] {
		storage.decision == reasons.deny("storage_path_invalid") with input as _admin_reads(path)
	}
}

test_segment_of_255_characters_is_allowed if {
	segment := _segment(255)
	count(segment) == 255
	storage.decision == reasons.allowed with input as _admin_reads(concat("/", ["storage/tenants/acme", segment]))
}

test_segment_of_256_characters_is_storage_path_invalid if {
	segment := _segment(256)
	count(segment) == 256
	path := concat("/", ["storage/tenants/acme", segment])
	storage.decision == reasons.deny("storage_path_invalid") with input as _admin_reads(path)
}

# Subject, action and path missing or of the wrong type.

test_subject_tenant_that_is_a_path_is_subject_invalid if {
	every tenant in ["../other", ".", "", "ACME", "acme/..", "storage/tenants/acme", null, 1] {
		storage.decision == reasons.deny("subject_invalid") with input as {
			"subject": {"tenant": tenant, "roles": ["admin"]},
			"action": "read",
			"path": "storage/tenants/acme/x",
		}
	}
}

test_missing_or_malformed_subject_is_subject_invalid if {
	every subject in [
		null, "acme", [], {}, {"tenant": "acme"},
		{"tenant": "acme", "roles": "admin"},
		{"tenant": "acme", "roles": [1]},
	] {
		storage.decision == reasons.deny("subject_invalid") with input as {
			"subject": subject,
			"action": "read",
			"path": "storage/tenants/acme/x",
		}
	}
}

test_unknown_or_malformed_action_is_request_invalid if {
	every action in ["list", "create", "update", "execute", "READ", "", null, ["read"]] {
		storage.decision == reasons.deny("request_invalid") with input as _request(["admin"], action, _own_file)
	}
}

test_path_of_wrong_type_is_request_invalid if {
	every path in [null, 1, true, ["storage", "tenants", "acme", "x"], {"path": "storage/tenants/acme/x"}] {
		storage.decision == reasons.deny("request_invalid") with input as _admin_reads(path)
	}
}

test_missing_path_is_request_invalid if {
	storage.decision == reasons.deny("request_invalid") with input as {
		"subject": {"tenant": "acme", "roles": ["admin"]},
		"action": "read",
	}
}

# Precedence among denials.

test_invalid_subject_wins_over_malformed_path if {
	storage.decision == reasons.deny("subject_invalid") with input as {
		"subject": {"tenant": "../globex", "roles": ["admin"]},
		"action": "read",
		"path": "storage/tenants/acme/../globex/x",
	}
}

test_invalid_action_wins_over_malformed_path if {
	storage.decision == reasons.deny("request_invalid") with input as _request(["admin"], "list", "/etc/passwd")
}

test_malformed_path_wins_over_cross_tenant if {
	storage.decision == reasons.deny("storage_path_invalid") with input as _admin_reads("storage/tenants/globex/x.")
}

# With an empty catalogue no branch has a value, so only the default is left:
# it must be the library's not_found, and even an allowed request is denied.

test_default_decision_is_the_library_not_found if {
	expected := reasons.deny("not_found")
	storage.decision == expected with input as _admin_reads(_own_file)
		with reasons.catalogue as {}
}
