"""The attack catalogue (ATTACKS.md) as data: groups, techniques, resources.

Scenario files name techniques by number (`A1`, `D27`); reports and the
coverage table show them with these short titles, in this order.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Group:
    letter: str
    title: str
    owasp: str  # the OWASP API Security Top 10 (2023) category most of it falls in
    numbers: range


GROUPS = (
    Group("A", "Object level (BOLA / IDOR)", "API1:2023", range(1, 16)),
    Group("B", "Function level (BFLA)", "API5:2023", range(16, 22)),
    Group("C", "Property level (BOPLA)", "API3:2023", range(22, 25)),
    Group("D", "Identity and tenant-context tampering", "API2:2023", range(25, 31)),
    Group("E", "Storage paths", "API1:2023", range(31, 37)),
    Group("F", "Resource consumption", "API4:2023", range(37, 44)),
    Group("G", "Oracles and shared infrastructure", "API1:2023", range(44, 48)),
    Group("H", "Keys and secrets", "API3:2023", range(48, 52)),
)

TITLES = {
    1: "Replay a request for B's object with A's token",
    2: "Enumerate IDs (sequential, neighbouring, guessed formats)",
    3: "Harvest B's IDs from list, search, export or error output",
    4: "The foreign ID in every place an ID is read",
    5: "Arrays of IDs mixing one's own and B's",
    6: "Type juggling: an ID replaced by an object, list, number, null",
    7: "Parameter pollution: the ID twice, with different values",
    8: "An older or alternate API version or route that skips the check",
    9: "Malformed IDs: trailing slash, encodings, case, look-alikes",
    10: "A child reached through the wrong parent",
    11: "Use after delete: still readable, listable or counted",
    12: "Leak after a failed create (the half-made object is reachable)",
    13: "Write and delete on B's object, not only read",
    14: "A redirect or error whose body still carries B's data",
    15: "File and blob references that point at B's stored files",
    16: "Admin, export and bulk endpoints called with a tenant token",
    17: "Method switching (a GET that is checked, a PUT that is not)",
    18: "Routes not in the documented API but still served",
    19: "A later step of a multi-step flow called directly",
    20: "Trust in Referer, X-Original-URL, X-Forwarded-For and similar",
    21: "Granting oneself a role or a membership in another tenant",
    22: "Mass assignment of tenant_id, owner, role, limits or flags",
    23: "Responses that expose more fields than the caller should see",
    24: "Bulk or batch operations that check only the first element",
    25: "A tenant header that disagrees with the token",
    26: "No Authorization header; an empty or malformed one",
    27: "JWT alg none, algorithm confusion, attacker keys",
    28: "Claims edited, re-signed wrongly, expired, wrong issuer/audience",
    29: "A token of one tenant replayed with another tenant's claim",
    30: "Case variants of parameter and header names",
    31: "../ traversal in a file name or storage key",
    32: "Encoded, overlong, Unicode, backslash, absolute, NUL paths",
    33: "Filter-stripping bypasses (....//)",
    34: "Second-order traversal: a path stored now and used later",
    35: "Symbolic links and archive entries leaving the tenant root",
    36: "A tenant ID that is itself a path",
    37: "Limit overrun by a burst of parallel requests",
    38: "Racing create and delete to count one slot twice",
    39: "Several endpoints consuming one quota, raced together",
    40: "Batching many units of work into one request",
    41: "Oversized page sizes and payloads",
    42: "Day-boundary double dip",
    43: "One tenant's exhaustion slows or blocks another",
    44: "403 against 404: exists-but-not-yours is distinguishable",
    45: "Error messages that name B's objects, tenant or paths",
    46: "Caches keyed without the tenant",
    47: "Audit or decision logs readable across tenants, or leaking secrets",
    48: "Decrypting B's sealed credential with A's or a stale key",
    49: "Ciphertext moved from B's row to A's row",
    50: "Rotation of A's key touching B's data",
    51: "Key material or plaintext secrets in responses, logs or errors",
}

# The resource types of the catalogue, in report order; `other` holds items
# whose scenario names no resource (the admin surface, undocumented routes).
RESOURCES = ("agent", "execution", "credential", "file", "config", "audit")
OTHER = "other"


def group_of(number: int) -> Group:
    return next(group for group in GROUPS if number in group.numbers)


def all_techniques() -> list[str]:
    """Every technique of the catalogue, in order: A1, A2, ... H51."""
    return [f"{group.letter}{n}" for group in GROUPS for n in group.numbers]


def title(technique: str) -> str:
    return TITLES.get(int(technique[1:]), "")


def sort_key(technique: str) -> tuple[int, int]:
    return (ord(technique[0]), int(technique[1:]))


def resource_column(resource: str) -> str:
    return resource if resource in RESOURCES else OTHER
