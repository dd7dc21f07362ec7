"""Archive bodies written as data: a zip or tar whose members a scenario names.

A request's `archive:` key reads like the attack it carries:

    archive:
      format: tar
      members:
        - {name: "../../{{victim.tenant}}/files/x", content: planted}
        - {name: escape, symlink: "../../{{victim.tenant}}/files"}

Member names and link targets are written into the archive exactly as given
(no normalisation), so an extractor sees the attacker's text. The same
members always give the same bytes (fixed timestamps), so a control request
and a replayed item send identical archives.
"""

from __future__ import annotations

import gzip
import io
import stat
import tarfile
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any

FORMATS = ("zip", "tar", "tar.gz")
LINK_KEYS = ("symlink", "hardlink")
CONTENT_TYPES = {
    "zip": "application/zip",
    "tar": "application/x-tar",
    "tar.gz": "application/gzip",
}
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def build(archive: Mapping[str, Any]) -> tuple[bytes, str]:
    """The archive's bytes and its content type."""
    kind = str(archive.get("format", "zip"))
    members = list(archive.get("members") or ())
    for member in members:
        if not isinstance(member, Mapping) or "name" not in member:
            raise ValueError(f"an archive member must be {{name, ...}}, not {member!r}")
    if kind == "zip":
        return _zip(members), CONTENT_TYPES[kind]
    if kind in ("tar", "tar.gz"):
        return _tar(members, compress=kind == "tar.gz"), CONTENT_TYPES[kind]
    raise ValueError(f"archive format {kind!r} is not one of {FORMATS}")


def _content(member: Mapping[str, Any]) -> bytes:
    content = member.get("content", "")
    return content if isinstance(content, bytes) else str(content).encode()


def _zip(members: Sequence[Mapping[str, Any]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for member in members:
            info = zipfile.ZipInfo(str(member["name"]), date_time=_ZIP_TIME)
            data = _content(member)
            if "symlink" in member:
                # Info-ZIP's convention: mode S_IFLNK, the target as the data.
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                data = str(member["symlink"]).encode()
            elif "hardlink" in member:
                raise ValueError("a zip archive cannot hold a hard link member")
            bundle.writestr(info, data)
    return buffer.getvalue()


def _tar(members: Sequence[Mapping[str, Any]], *, compress: bool) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as bundle:
        for member in members:
            info = tarfile.TarInfo(str(member["name"]))
            info.mtime = 0
            if "symlink" in member or "hardlink" in member:
                symbolic = "symlink" in member
                info.type = tarfile.SYMTYPE if symbolic else tarfile.LNKTYPE
                info.linkname = str(member["symlink" if symbolic else "hardlink"])
                bundle.addfile(info)
            else:
                data = _content(member)
                info.size = len(data)
                bundle.addfile(info, io.BytesIO(data))
    packed = buffer.getvalue()
    return gzip.compress(packed, mtime=0) if compress else packed
