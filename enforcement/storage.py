"""Tenant storage roots, and every path proven to stay inside one.

A tenant's files live under `{base}/storage/tenants/{tenant_id}/`. A path is
checked twice, and the second check is made at the moment of use:

1. By its text (`check_path`): ASCII letters, digits, `.`, `_` and `-` in
   segments joined by `/`; no segment empty, `.` or `..`, starting with a dot
   or ending in a dot or a space. So `..` in any encoding (URL-encoded,
   double-encoded, overlong UTF-8, Unicode look-alikes), backslashes, absolute
   paths and NUL bytes are refused before the disk is touched. The rule is the
   storage policy's (policies/tenantguard/storage), kept at least as strict.
2. On disk, by a directory-fd walk: the base directory is opened once, and
   every component below it (`storage`, `tenants`, the tenant, each directory
   of the path, the file) is opened relative to its parent's descriptor with
   `O_NOFOLLOW`. No symbolic link is ever followed, so a link planted inside a
   root (to another tenant, to `/etc`) is refused wherever it sits, and there
   is no window between checking a path and using it, as there is with
   `realpath()` then `open()`. The opened file is then checked by `fstat` (a
   regular file with one link, so a planted hard link is refused too) and, on
   Linux, by the real path of its descriptor.

Archives (zip and tar) are extracted all or nothing: every member is checked
first (its name as a path, its type: links, devices and FIFOs are refused
outright), then written into a hidden staging directory inside the root and
renamed into place.

POSIX only: the walk needs `O_NOFOLLOW` and `dir_fd` support (Linux, macOS).
"""

from __future__ import annotations

import errno
import hashlib
import io
import lzma
import os
import re
import secrets
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from enforcement.errors import TenantGuardError

TENANT_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,254}")
MAX_PATH_CHARS = 1024
MAX_DEPTH = 16
ROOT_PARTS = ("storage", "tenants")
STAGING_PREFIX = ".tg-"  # never a valid user path: segments cannot start with "."

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_LINK_ERRORS = (errno.ELOOP, errno.ENOTDIR, errno.EMLINK)


class PathRefused(TenantGuardError):
    """A path, tenant ID or archive member would leave the tenant's root.

    `problem` is a stable code for the audit log (`dot_segment`, `symlink`,
    `archive_link`, ...); `detail` names the offending part for the operator.
    The message (`str()`) is safe to show to the caller.
    """

    def __init__(self, problem: str, detail: str = "") -> None:
        super().__init__("the path is not allowed in your storage")
        self.problem = problem
        self.detail = detail[:200]

    def __repr__(self) -> str:
        return f"PathRefused({self.problem!r}, {self.detail!r})"


class ArchiveRefused(PathRefused):
    """An archive that is not a zip or tar, or one of whose members is refused."""


@dataclass(frozen=True)
class StoredEntry:
    """A file inside a tenant's root: its path below the root, size and digest."""

    path: str
    size: int
    sha256: str


def check_tenant_id(tenant_id: object) -> str:
    """`tenant_id` if it is a valid tenant ID (so never a path), else refused."""
    if isinstance(tenant_id, str) and TENANT_ID.fullmatch(tenant_id):
        return tenant_id
    raise PathRefused("tenant_invalid", repr(tenant_id))


def check_path(path: object) -> tuple[str, ...]:
    """The segments of a relative storage path, or PathRefused naming why not."""
    if not isinstance(path, str) or path == "":
        raise PathRefused("empty", repr(path))
    problem = _text_problem(path)
    if problem is not None:
        raise PathRefused(problem, repr(path))
    segments = tuple(path.split("/"))
    if len(segments) > MAX_DEPTH:
        raise PathRefused("too_deep", repr(path))
    for segment in segments:
        problem = _segment_problem(segment)
        if problem is not None:
            raise PathRefused(problem, repr(path))
    return segments


def _text_problem(path: str) -> str | None:
    checks = (
        ("nul", "\x00" in path),
        ("too_long", len(path) > MAX_PATH_CHARS),
        ("absolute", path.startswith("/")),
        ("backslash", "\\" in path),
        ("percent_encoding", "%" in path),
        ("non_ascii", not path.isascii()),
        ("control_character", any(ord(c) < 32 or ord(c) == 127 for c in path)),
    )
    return next((name for name, failed in checks if failed), None)


def _segment_problem(segment: str) -> str | None:
    if segment == "":
        return "empty_segment"
    if segment in (".", ".."):
        return "dot_segment"
    if segment.endswith((".", " ")):
        return "trailing_dot_or_space"
    if segment.startswith("."):
        return "hidden_segment"
    if not SEGMENT.fullmatch(segment):
        return "bad_character"
    return None


class TenantStorage:
    """Per-tenant roots under `base_dir`; every operation walks by descriptor."""

    def __init__(self, base_dir: Path) -> None:
        # The base is the operator's setting and is trusted (it may itself be
        # a link); nothing below it is.
        self.base = Path(base_dir).resolve()

    def __repr__(self) -> str:
        return f"TenantStorage({str(self.base)!r})"

    def root(self, tenant_id: str) -> Path:
        """Where `tenant_id`'s root is (for information; never opened by name)."""
        return self.base.joinpath(*ROOT_PARTS, check_tenant_id(tenant_id))

    # -- files ------------------------------------------------------------

    def read_bytes(self, tenant_id: str, path: str) -> bytes | None:
        """The file's bytes, None if there is none; refused if it leaves the root."""
        *parents, name = check_path(path)
        try:
            with self._directory(tenant_id, parents, create=False) as directory:
                return _read_file(directory, name, self.root(tenant_id))
        except FileNotFoundError:
            return None

    def write_bytes(self, tenant_id: str, path: str, data: bytes) -> None:
        """Write atomically (a staged file renamed into place); never through a link."""
        *parents, name = check_path(path)
        with self._directory(tenant_id, parents, create=True) as directory:
            _replace_file(directory, name, data)

    def delete(self, tenant_id: str, path: str) -> bool:
        """Remove a file or a whole directory tree (links inside a tree are
        removed, never followed); a link named directly is refused. False if
        there was nothing."""
        *parents, name = check_path(path)
        try:
            with self._directory(tenant_id, parents, create=False) as directory:
                _refuse_symlink(directory, name)
                return _remove(directory, name)
        except FileNotFoundError:
            return False

    def entries(self, tenant_id: str, path: str) -> list[StoredEntry] | None:
        """Every file below the directory `path`, None if it does not exist."""
        segments = check_path(path)
        try:
            with self._directory(tenant_id, segments, create=False) as directory:
                return sorted(_walk(directory, ""), key=lambda entry: entry.path)
        except FileNotFoundError:
            return None

    def usage(self, tenant_id: str) -> int:
        """Bytes held in regular files anywhere under the tenant's root."""
        try:
            with self._directory(tenant_id, (), create=False) as directory:
                return sum(entry.size for entry in _walk(directory, "", digest=False))
        except FileNotFoundError:
            return 0

    # -- archives ---------------------------------------------------------

    def extract_archive(
        self,
        tenant_id: str,
        archive: bytes,
        destination: str,
        *,
        max_members: int = 1000,
        max_bytes: int = 64 * 1024 * 1024,
    ) -> list[StoredEntry]:
        """Extract a zip or tar into the directory `destination`, replacing it.

        All or nothing: a member whose name leaves the root, a link, device or
        FIFO member, a duplicate, too many members or too many bytes refuse the
        whole archive before anything is written.
        """
        members = read_archive(archive, max_members=max_members, max_bytes=max_bytes)
        return self.extract_members(tenant_id, members, destination)

    def extract_members(
        self, tenant_id: str, members: list[tuple[str, bytes]], destination: str
    ) -> list[StoredEntry]:
        """Write members read by `read_archive` into a hidden staging directory,
        then rename it to `destination` (replacing what was there)."""
        *parents, name = check_path(destination)
        for member_path, _ in members:
            check_path(member_path)
        with self._directory(tenant_id, parents, create=True) as directory:
            staging = f"{STAGING_PREFIX}extract-{secrets.token_hex(8)}"
            try:
                for member_path, data in members:
                    _write_below(directory, (staging, *member_path.split("/")), data)
                _mkdir(directory, staging)
                _remove(directory, name)
                os.rename(staging, name, src_dir_fd=directory, dst_dir_fd=directory)
            finally:
                _remove(directory, staging)
        return [_entry(member_path, data) for member_path, data in members]

    # -- the walk ---------------------------------------------------------

    @contextmanager
    def _directory(
        self, tenant_id: str, segments: tuple[str, ...] | list[str], *, create: bool
    ) -> Iterator[int]:
        """A descriptor of the directory `segments` below the tenant's root,
        reached without following any link; created on the way if `create`."""
        parts = (*ROOT_PARTS, check_tenant_id(tenant_id), *segments)
        descriptor = os.open(self.base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for part in parts:
                descriptor = _descend(descriptor, part, create=create)
            yield descriptor
        finally:
            os.close(descriptor)


def _descend(parent: int, name: str, *, create: bool) -> int:
    """The directory `name` inside `parent`, in place of `parent` (closed once
    the child is open; left open for the caller to close on failure)."""
    child = _step(parent, name, create=create)
    os.close(parent)
    return child


def _step(parent: int, name: str, *, create: bool) -> int:
    """Open directory `name` inside `parent`, never through a link."""
    try:
        try:
            return os.open(name, _DIRECTORY, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                raise
            _mkdir(parent, name)
            return os.open(name, _DIRECTORY, dir_fd=parent)
    except OSError as error:
        if error.errno in _LINK_ERRORS:
            detail = f"{name!r} is a link or not a directory"
            raise PathRefused("symlink", detail) from None
        raise


def _mkdir(parent: int, name: str) -> None:
    with suppress(FileExistsError):
        os.mkdir(name, 0o700, dir_fd=parent)


def _read_file(directory: int, name: str, root: Path) -> bytes:
    try:
        descriptor = os.open(name, _READ, dir_fd=directory)
    except OSError as error:
        if error.errno in _LINK_ERRORS:
            raise PathRefused("symlink", f"{name!r} is a link") from None
        raise
    try:
        _check_opened(descriptor, name, root)
    except BaseException:
        os.close(descriptor)
        raise
    with os.fdopen(descriptor, "rb") as file:
        return file.read()


def _check_opened(descriptor: int, name: str, root: Path) -> None:
    """The opened file is a regular file with one name, inside `root`."""
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode):
        raise PathRefused("not_a_file", f"{name!r} is not a regular file")
    if status.st_nlink != 1:
        raise PathRefused("hard_link", f"{name!r} has {status.st_nlink} links")
    real = _descriptor_path(descriptor)
    if real is not None and not real.is_relative_to(root.resolve()):
        raise PathRefused("outside_root", f"{name!r} resolves outside the root")


def _descriptor_path(descriptor: int) -> Path | None:
    try:
        return Path(os.readlink(f"/proc/self/fd/{descriptor}"))
    except OSError:  # no /proc (macOS): the walk itself is the proof
        return None


def _replace_file(directory: int, name: str, data: bytes) -> None:
    staged = f"{STAGING_PREFIX}upload-{secrets.token_hex(8)}"
    descriptor = os.open(staged, _CREATE, 0o600, dir_fd=directory)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        _refuse_link(directory, name)
        # rename() replaces the directory entry itself: even a link planted
        # after the check above is replaced, never written through.
        os.rename(staged, name, src_dir_fd=directory, dst_dir_fd=directory)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(staged, dir_fd=directory)
        raise


def _refuse_link(directory: int, name: str) -> None:
    try:
        status = os.stat(name, dir_fd=directory, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(status.st_mode):
        raise PathRefused("symlink", f"{name!r} is a link")
    if not stat.S_ISREG(status.st_mode):
        raise PathRefused("not_a_file", f"{name!r} is not a regular file")


def _refuse_symlink(directory: int, name: str) -> None:
    with suppress(FileNotFoundError):
        status = os.stat(name, dir_fd=directory, follow_symlinks=False)
        if stat.S_ISLNK(status.st_mode):
            raise PathRefused("symlink", f"{name!r} is a link")


def _write_below(directory: int, segments: tuple[str, ...], data: bytes) -> None:
    *parents, name = segments
    descriptor = os.dup(directory)
    try:
        for part in parents:
            descriptor = _descend(descriptor, part, create=True)
        _replace_file(descriptor, name, data)
    finally:
        os.close(descriptor)


def _remove(directory: int, name: str) -> bool:
    """Remove `name` (a file, a link itself, or a tree); False if absent."""
    try:
        status = os.stat(name, dir_fd=directory, follow_symlinks=False)
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(status.st_mode):
        # rmtree with dir_fd uses the descriptor-based, link-safe walk.
        shutil.rmtree(name, dir_fd=directory)
    else:
        os.unlink(name, dir_fd=directory)
    return True


def _walk(directory: int, prefix: str, *, digest: bool = True) -> Iterator[StoredEntry]:
    """Regular files below `directory`; links and hidden entries are skipped."""
    for name in sorted(os.listdir(directory)):
        if name.startswith("."):
            continue
        status = os.stat(name, dir_fd=directory, follow_symlinks=False)
        path = f"{prefix}{name}"
        if stat.S_ISDIR(status.st_mode):
            child = os.open(name, _DIRECTORY, dir_fd=directory)
            try:
                yield from _walk(child, f"{path}/", digest=digest)
            finally:
                os.close(child)
        elif stat.S_ISREG(status.st_mode):
            yield _stat_entry(directory, name, path, status.st_size, digest)


def _stat_entry(directory: int, name: str, path: str, size: int, digest: bool):
    if not digest:
        return StoredEntry(path, size, "")
    descriptor = os.open(name, _READ, dir_fd=directory)
    with os.fdopen(descriptor, "rb") as file:
        return StoredEntry(path, size, hashlib.file_digest(file, "sha256").hexdigest())


def _entry(path: str, data: bytes) -> StoredEntry:
    return StoredEntry(path, len(data), hashlib.sha256(data).hexdigest())


# -- archives -------------------------------------------------------------


def read_archive(
    archive: bytes, *, max_members: int = 1000, max_bytes: int = 64 * 1024 * 1024
) -> list[tuple[str, bytes]]:
    """(path, bytes) of every regular file of a zip or tar, each path checked;
    directory entries are implied by the paths and dropped. Refused whole if
    any member is refused."""
    if zipfile.is_zipfile(io.BytesIO(archive)):
        members = _zip_members(archive, max_members, max_bytes)
    else:
        members = _tar_members(archive, max_members, max_bytes)
    return _checked_tree(members)


# What the standard library raises on hostile archives (it promises no single
# type): each becomes one `archive_invalid` refusal.
_DECODE_ERRORS = (EOFError, OSError, ValueError, zlib.error, lzma.LZMAError)
_ZIP_ERRORS = (zipfile.BadZipFile, NotImplementedError, RuntimeError, *_DECODE_ERRORS)
_TAR_ERRORS = (tarfile.TarError, *_DECODE_ERRORS)


def _zip_members(archive: bytes, max_members: int, max_bytes: int):
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
            infos = bundle.infolist()
            _check_count(len(infos), max_members)
            budget = _Budget(max_bytes)
            members = []
            for info in infos:
                path = _member_path(info.filename)
                kind = stat.S_IFMT(info.external_attr >> 16)
                if info.is_dir():
                    continue
                if kind not in (0, stat.S_IFREG):
                    raise ArchiveRefused("archive_link", _show(info.filename))
                if info.flag_bits & 0x1:
                    raise ArchiveRefused("archive_encrypted", _show(info.filename))
                members.append((path, budget.read(bundle.open(info), info.filename)))
            return members
    except _ZIP_ERRORS as error:
        raise ArchiveRefused("archive_invalid", type(error).__name__) from None


def _tar_members(archive: bytes, max_members: int, max_bytes: int):
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as bundle:
            infos = bundle.getmembers()
            _check_count(len(infos), max_members)
            budget = _Budget(max_bytes)
            members = []
            for info in infos:
                path = _member_path(info.name)
                if info.isdir():
                    continue
                if not info.isreg():
                    raise ArchiveRefused("archive_link", _show(info.name))
                members.append((path, budget.read(bundle.extractfile(info), info.name)))
            return members
    except _TAR_ERRORS as error:
        raise ArchiveRefused("archive_invalid", type(error).__name__) from None


def _check_count(count: int, max_members: int) -> None:
    if count > max_members:
        raise ArchiveRefused("archive_too_large", f"{count} members")


class _Budget:
    """Counts the bytes actually read, so a member that lies about its size
    (a zip bomb) is stopped at the limit, not after it."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def read(self, file, name: str) -> bytes:
        data = file.read(self.left + 1)
        if len(data) > self.left:
            raise ArchiveRefused("archive_too_large", _show(name))
        self.left -= len(data)
        return data


def _member_path(raw: str) -> str:
    """A member's name as a path below the destination, or refused."""
    name = raw
    while name.startswith("./"):  # `tar -C dir .` writes these; harmless
        name = name[2:]
    name = name.removesuffix("/")
    try:
        check_path(name)
    except PathRefused as refused:
        detail = f"{_show(raw)}: {refused.problem}"
        raise ArchiveRefused("archive_member", detail) from None
    return name


def _checked_tree(members: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """No path twice, and no file where another member needs a directory."""
    files = {path for path, _ in members}
    if len(files) != len(members):
        raise ArchiveRefused("archive_duplicate", "a path appears twice")
    for path in files:
        segments = path.split("/")
        for depth in range(1, len(segments)):
            if "/".join(segments[:depth]) in files:
                raise ArchiveRefused("archive_duplicate", _show(path))
    return members


def _show(name: str) -> str:
    return repr(name)[:120]
