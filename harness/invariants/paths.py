"""Storage paths in every form of ATTACKS.md group E, and how a consumer may
read them.

A path a rule allows is handed to storage code that may URL-decode it (once
or twice, overlong UTF-8 included), normalize Unicode, treat a backslash as a
separator, cut it at NUL, drop trailing dots and spaces (Windows), strip
"../" once (a naive filter) or trim whitespace. A path is inside the subject's
root only if every such reading, after resolving "." and "..", lies strictly
below `root(own)`. That is the property, not a copy of the rule: the rule may
be stricter (and the shipped one is: an ASCII allow-list), never looser.
"""

from __future__ import annotations

import functools
import json
import posixpath
import re
import unicodedata
from pathlib import Path
from urllib.parse import unquote_to_bytes

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "storage_paths.json"
SHIPPED_ROOT = "storage/tenants/"

# Inserted into an own-root path in place of a segment; {other} is another tenant.
ATTACK_SEGMENTS = (
    "..", ".", "", "../{other}", "..%2f{other}", "%2e%2e/{other}", "%2E%2E%2F{other}",
    "%252e%252e/{other}", "%c0%ae%c0%ae/{other}", "%e0%80%ae%e0%80%ae/{other}",
    "..%c0%af{other}", "..\\{other}", "..\u2215{other}", "\uff0e\uff0e/{other}",
    "..\uff0f{other}", "..\u2044{other}", "\u2024\u2024/{other}", "\u2025/{other}",
    "....//{other}", "...", "..../{other}", "x.", "x ", "x\u0000.png", "x\u200b",
    "%00", ".env", "a:b", "\u0430cme", "~", "x\\y",
)  # fmt: skip

# Whole-path rewrites of a well-formed path.
REWRITES = (
    lambda p: "/" + p,
    lambda p: "//" + p,
    lambda p: "./" + p,
    lambda p: "file:///" + p,
    lambda p: "C:/" + p,
    lambda p: " " + p,
    lambda p: p + "/",
    lambda p: p + ".",
    lambda p: p + " ",
    lambda p: p + "\u0000",
    lambda p: p + "\n",
    lambda p: p.replace("/", "%2f"),
    lambda p: p.replace("/", "%252f"),
    lambda p: p.replace("/", "\\"),
    lambda p: p.replace("/", "\u2215"),
    lambda p: p.replace("/", "//"),
    lambda p: p.upper(),
    lambda p: p.replace(".", "%2e"),
)

_LOOKALIKE_SLASHES = str.maketrans(
    {"\u2215": "/", "\u2044": "/", "\uff0f": "/", "\u29f8": "/", "\uff3c": "\\"}
)
_OVERLONG = (
    (b"\xc0\xae", b"."), (b"\xc0\x2e", b"."), (b"\xe0\x80\xae", b"."),
    (b"\xc0\xaf", b"/"), (b"\xe0\x80\xaf", b"/"), (b"\xc1\x9c", b"\\"),
)  # fmt: skip


@functools.cache
def vector_templates(root_prefix: str) -> tuple[tuple[str, str], ...]:
    """(form, template) of harness/vectors/storage_paths.json, with the
    shipped root replaced by the declared one."""
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
    return tuple(
        (vector["form"], vector["path"].replace(SHIPPED_ROOT, root_prefix))
        for vector in vectors
    )


def readings(path: str, depth: int = 3) -> list[str]:
    """Every way a consumer may read `path` (see the module docstring), the
    plainest first."""
    seen, frontier = {path: None}, [path]
    for _ in range(depth):
        following = []
        for text in frontier:
            for read in _READERS:
                new = read(text)
                if new not in seen:
                    seen[new] = None
                    following.append(new)
        frontier = following
    return list(seen)


def escape(path: str, own_root: str) -> str | None:
    """The plainest reading of `path` not strictly below `own_root`, or None."""
    return next((text for text in readings(path) if not _below(text, own_root)), None)


def malformed(path: str) -> str | None:
    """Which class of policies/README.md's storage_path_invalid `path` is in
    beyond doubt: traversal, encodings, backslashes, absolute, NUL, empty, "."
    or ".." segments, trailing dot or space, characters outside ASCII."""
    checks = (
        ("an encoding (%)", "%" in path),
        ("a backslash", "\\" in path),
        ("a NUL or control character", any(ord(c) < 32 or ord(c) == 127 for c in path)),
        ("a character outside ASCII", any(ord(c) > 127 for c in path)),
        ("whitespace", any(c.isspace() for c in path)),
        ("an absolute path", path.startswith(("/", "~")) or bool(re.match(r"^[A-Za-z]:", path))),
        ("a URL scheme", "://" in path),
        ("an empty, '.' or '..' segment", any(s in ("", ".", "..") for s in path.split("/"))),
        ("a segment with a trailing dot", any(s.endswith(".") for s in path.split("/"))),
    )  # fmt: skip
    return next((name for name, found in checks if found), None)


def _below(reading: str, own_root: str) -> bool:
    if reading.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", reading):
        return False
    if "://" in reading:
        return False
    resolved = posixpath.normpath(reading)
    return resolved.startswith(own_root) and not resolved.startswith("../")


def _percent_decode(text: str) -> str:
    raw = unquote_to_bytes(text)
    for overlong, plain in _OVERLONG:
        raw = raw.replace(overlong, plain)
    return raw.decode("utf-8", "replace")


def _unicode(text: str) -> str:
    return unicodedata.normalize("NFKC", text).translate(_LOOKALIKE_SLASHES)


def _windows_trailing(text: str) -> str:
    text = re.sub(r" +(?=/|$)", "", text)
    return re.sub(r"(?<=[^/.])\.+(?=/|$)", "", text)


_READERS = (
    _percent_decode,
    _unicode,
    lambda text: text.replace("\\", "/"),
    lambda text: text.split("\u0000", 1)[0],
    _windows_trailing,
    lambda text: text.replace("../", "").replace("..\\", ""),
    str.strip,
)
