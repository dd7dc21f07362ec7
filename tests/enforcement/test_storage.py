"""Tenant storage roots: no path, tenant ID, link or archive member leaves one.

The property test draws names and paths (1,000 by default; 10,000 with
`TENANTGUARD_PATH_EXAMPLES=10000`) and writes, reads and deletes each in a
root where links to another tenant and outside the base are planted.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import tarfile
import warnings
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from enforcement.storage import (
    ArchiveRefused,
    PathRefused,
    TenantStorage,
    check_path,
    check_tenant_id,
    read_archive,
)

REPO = Path(__file__).resolve().parents[2]
VECTORS = json.loads((REPO / "harness/vectors/storage_paths.json").read_text())
EXAMPLES = int(os.environ.get("TENANTGUARD_PATH_EXAMPLES", "1000"))
MARK = b"written by the property test"
SECRET = b"globex secret"


# -- the text of a path ---------------------------------------------------------


def _relative(path: str) -> str:
    """A vector's path below the tenant root, as the resolver receives it."""
    prefix = "storage/tenants/acme/"
    return path[len(prefix) :] if path.startswith(prefix) else path


# Forms whose text is a well-formed relative path: below the own root they
# name a subfolder (`storage/tenants/globex/...` inside acme's root); the
# storage policy refuses them as paths under another tenant's root.
WELL_FORMED = {
    "plain", "nested", "other-root", "uppercase-root", "wrong-root", "root-only"
}  # fmt: skip


@pytest.mark.parametrize(
    "vector", VECTORS, ids=[f"{v['technique']}-{v['form']}" for v in VECTORS]
)
def test_group_e_forms_are_refused_or_stay_inside_the_root(tmp_path, vector):
    path = vector["path"].replace("{own}", "acme").replace("{other}", "globex")
    storage = TenantStorage(tmp_path)

    try:
        storage.write_bytes("acme", _relative(path), MARK)
    except PathRefused:
        assert vector["technique"] != "E-control"
        return

    assert vector["form"] in WELL_FORMED
    root = tmp_path / "storage/tenants/acme"
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and all(root in p.parents for p in written)


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("../x", "dot_segment"),
        ("a/./b", "dot_segment"),
        ("a//b", "empty_segment"),
        ("/etc/passwd", "absolute"),
        ("a\\..\\b", "backslash"),
        ("%2e%2e/x", "percent_encoding"),
        ("%252e%252e/x", "percent_encoding"),
        ("\uff0e\uff0e/x", "non_ascii"),
        ("..\u2215x", "non_ascii"),
        ("\u2024\u2024/x", "non_ascii"),
        ("x.txt\x00.png", "nul"),
        ("report.", "trailing_dot_or_space"),
        ("report ", "trailing_dot_or_space"),
        ("....//x", "trailing_dot_or_space"),
        (".hidden", "hidden_segment"),
        ("a\tb", "control_character"),
        ("a:b", "bad_character"),
        ("", "empty"),
        ("a/" * 20 + "b", "too_deep"),
        ("a" * 1025, "too_long"),
    ],
)
def test_each_malformed_path_is_refused_naming_why(path, problem):
    with pytest.raises(PathRefused) as refused:
        check_path(path)

    assert refused.value.problem == problem
    assert str(refused.value) == "the path is not allowed in your storage"


@pytest.mark.parametrize(
    "tenant", ["../globex", ".", "..", "", "a/b", "Acme", "-x", "a" * 64, "a\x00", 7]
)
def test_a_tenant_id_can_never_be_a_path(tenant):
    with pytest.raises(PathRefused) as refused:
        check_tenant_id(tenant)

    assert refused.value.problem == "tenant_invalid"


# -- on disk ------------------------------------------------------------------


def plant(base: Path) -> dict[str, bytes]:
    """Two tenants and an outside folder, with links out of acme's root.
    Returns what must never change: every file outside acme's root."""
    globex = base / "storage/tenants/globex/files"
    acme = base / "storage/tenants/acme"
    outside = base / "outside"
    for folder in (globex, acme / "files", outside):
        folder.mkdir(parents=True, exist_ok=True)
    (globex / "secret.txt").write_bytes(SECRET)
    (outside / "canary.txt").write_bytes(b"outside")
    (acme / "files/own.txt").write_bytes(b"own")
    os.symlink("../globex", acme / "link")
    os.symlink(outside, acme / "abs")
    os.symlink("/etc", acme / "etc")
    os.symlink(globex / "secret.txt", acme / "files/flink.txt")
    os.link(globex / "secret.txt", acme / "files/hard.txt")
    os.mkfifo(acme / "files/fifo")
    return outside_state(base)


def outside_state(base: Path) -> dict[str, bytes]:
    acme = base / "storage/tenants/acme"
    state = {}
    for path in sorted(base.rglob("*")):
        if path == acme or acme in path.parents:
            continue
        if path.is_symlink():
            state[str(path)] = os.readlink(path).encode()
        elif path.is_file():
            state[str(path)] = path.read_bytes()
        else:
            state[str(path)] = b"<dir>"
    return state


@pytest.fixture
def world(tmp_path) -> tuple[TenantStorage, Path, dict[str, bytes]]:
    return TenantStorage(tmp_path), tmp_path, plant(tmp_path)


@pytest.mark.parametrize(
    "path",
    ["link/files/secret.txt", "abs/canary.txt", "etc/passwd", "files/flink.txt"],
)
def test_a_planted_symlink_is_refused_for_every_operation(world, path):
    storage, base, before = world

    for operation in (
        lambda: storage.read_bytes("acme", path),
        lambda: storage.write_bytes("acme", path, b"overwritten"),
    ):
        with pytest.raises(PathRefused) as refused:
            operation()
        assert refused.value.problem == "symlink"
    assert outside_state(base) == before


def test_a_planted_hard_link_is_refused(world):
    storage, base, before = world

    with pytest.raises(PathRefused) as refused:
        storage.read_bytes("acme", "files/hard.txt")

    assert refused.value.problem == "hard_link"


def test_a_fifo_is_not_read(world):
    storage, _, _ = world

    with pytest.raises(PathRefused) as refused:
        storage.read_bytes("acme", "files/fifo")

    assert refused.value.problem == "not_a_file"


def test_deleting_a_link_is_refused_and_its_target_kept(world):
    storage, base, before = world

    with pytest.raises(PathRefused):
        storage.delete("acme", "files/flink.txt")

    assert outside_state(base) == before
    assert (base / "storage/tenants/acme/files/flink.txt").is_symlink()


def test_deleting_a_tree_removes_links_inside_it_never_their_targets(world):
    storage, base, before = world

    assert storage.delete("acme", "files")

    assert outside_state(base) == before
    assert not (base / "storage/tenants/acme/files").exists()


def test_a_tenant_root_that_is_itself_a_link_is_refused(tmp_path):
    (tmp_path / "storage/tenants/globex").mkdir(parents=True)
    os.symlink("globex", tmp_path / "storage/tenants/acme")

    with pytest.raises(PathRefused):
        TenantStorage(tmp_path).write_bytes("acme", "files/x", b"x")

    assert list((tmp_path / "storage/tenants/globex").iterdir()) == []


def test_a_write_reads_back_and_lands_under_the_root(tmp_path):
    storage = TenantStorage(tmp_path)

    storage.write_bytes("acme", "files/a/b.txt", b"data")

    assert storage.read_bytes("acme", "files/a/b.txt") == b"data"
    assert (tmp_path / "storage/tenants/acme/files/a/b.txt").read_bytes() == b"data"
    assert stat.S_IMODE((tmp_path / "storage/tenants/acme").stat().st_mode) == 0o700
    assert storage.read_bytes("acme", "files/none") is None
    assert storage.read_bytes("globex", "files/a/b.txt") is None


def acme_files(base: Path) -> dict[str, bytes]:
    root = base / "storage/tenants/acme"
    found = {}
    for folder, _, names in os.walk(root):  # never follows links
        for name in names:
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink() and path.stat().st_nlink == 1:
                found[str(path.relative_to(root))] = path.read_bytes()
    return found


ATOMS = [
    "..", ".", "", "...", "....", "files", "own.txt", "link", "abs", "etc",
    "flink.txt", "hard.txt", "fifo", "globex", "acme", "storage", "tenants",
    "passwd", "outside", "canary.txt", "secret.txt", "%2e%2e", "%252e%252e",
    "%c0%ae%c0%ae", "..%2f", "\u2215", "\uff0e\uff0e", "\u2024\u2024", "..\\",
    "\\", "\x00", "x ", "x.", "~", ".hidden", "COM1", "a:b", "\u0000..",
]  # fmt: skip
SEPARATORS = ["/", "/", "/", "\\", "//", "/./", "/../", ""]

segments = st.one_of(st.sampled_from(ATOMS), st.text(max_size=10))
joined = st.lists(
    st.tuples(segments, st.sampled_from(SEPARATORS)), min_size=1, max_size=8
).map(lambda parts: "".join(segment + sep for segment, sep in parts).rstrip("/"))
paths = st.one_of(
    joined,
    joined.map(lambda path: "/" + path),
    st.text(max_size=40),
    st.text(alphabet="./\\%2ef0acm~ \x00", max_size=24),
)
tenants = st.one_of(
    st.just("acme"),
    st.sampled_from(["../globex", ".", "..", "", "globex/../acme", "ACME", "acme/"]),
    st.text(max_size=12),
)


def vector_examples(test):
    for path in ("files", "files/own.txt/x", "files/fifo", "link", "abs/../x"):
        test = example(tenant="acme", path=path)(test)
    for vector in VECTORS:
        path = vector["path"].replace("{own}", "acme").replace("{other}", "globex")
        test = example(tenant="acme", path=_relative(path))(test)
        test = example(tenant="acme", path=path)(test)
    return test


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@vector_examples
@given(tenant=tenants, path=paths)
def test_no_generated_name_or_path_escapes_the_tenant_root(tmp_path, tenant, path):
    base, before = _fresh_world(tmp_path / "world")
    storage = TenantStorage(base)

    written = _attempt(lambda: storage.write_bytes(tenant, path, MARK))
    read = _attempt(lambda: storage.read_bytes(tenant, path))
    deleted = _attempt(lambda: storage.delete(tenant, path))

    if tenant == "acme":
        assert outside_state(base) == before, (tenant, path)
        assert read in (None, PathRefused, MARK, b"own"), (tenant, path, read)
    else:  # refused, or a valid tenant ID working in its own root only
        assert outside_state(base) == before or _only_own_root(base, tenant, before)
    if written is None:
        assert read == MARK, (tenant, path)
    if written is None or deleted is True:
        _WORLDS.pop(base, None)  # changed: planted again for the next example


_WORLDS: dict[Path, dict[str, bytes]] = {}


def _fresh_world(base: Path) -> tuple[Path, dict[str, bytes]]:
    """The planted world, rebuilt only after an example changed it."""
    if base not in _WORLDS:
        shutil.rmtree(base, ignore_errors=True)
        _WORLDS[base] = plant(base)
    return base, _WORLDS[base]


def _attempt(operation):
    try:
        return operation()
    except PathRefused:
        return PathRefused


def _only_own_root(base: Path, tenant: str, before: dict[str, bytes]) -> bool:
    """A valid tenant ID other than acme writes under its own root, which is
    outside acme's: allowed, as long as it is that root and nothing else."""
    after = outside_state(base)
    root = str(base / "storage/tenants" / tenant)
    changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
    return check_tenant_id(tenant) == tenant and all(
        p == root or p.startswith(root + "/") for p in changed
    )


# -- archives -----------------------------------------------------------------


def zip_of(*members: tuple[str, bytes], mode: int | None = None) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as bundle:
        warnings.simplefilter("ignore")  # a duplicate name is the point
        for name, data in members:
            info = zipfile.ZipInfo(name)
            if mode is not None:
                info.external_attr = mode << 16
            bundle.writestr(info, data)
    return buffer.getvalue()


def tar_of(*infos: tuple[str, bytes, bytes], compression: str = "") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=f"w:{compression}") as bundle:
        for name, kind, data in infos:
            info = tarfile.TarInfo(name)
            info.type, info.size = kind, len(data)
            if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname, info.size = data.decode(), 0
                bundle.addfile(info)
            else:
                bundle.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


BAD_ARCHIVES = {
    "zip-dotdot": (zip_of(("../../globex/files/x", b"x")), "archive_member"),
    "zip-deep-dotdot": (zip_of(("a/b/../../../x", b"x")), "archive_member"),
    "zip-absolute": (zip_of(("/etc/cron.d/x", b"x")), "archive_member"),
    "zip-backslash": (zip_of(("..\\..\\x", b"x")), "archive_member"),
    "zip-lookalike": (zip_of(("\uff0e\uff0e/x", b"x")), "archive_member"),
    "zip-trailing-dot": (zip_of(("x.", b"x")), "archive_member"),
    "zip-symlink": (zip_of(("link", b"/etc"), mode=stat.S_IFLNK | 0o777), "archive_link"),
    "zip-duplicate": (zip_of(("a", b"1"), ("a", b"2")), "archive_duplicate"),
    "zip-file-and-dir": (zip_of(("a", b"1"), ("a/b", b"2")), "archive_duplicate"),
    "tar-dotdot": (tar_of(("../x", tarfile.REGTYPE, b"x")), "archive_member"),
    "tar-absolute": (tar_of(("/tmp/x", tarfile.REGTYPE, b"x")), "archive_member"),
    "tar-symlink": (tar_of(("l", tarfile.SYMTYPE, b"../../globex")), "archive_link"),
    "tar-symlink-inside": (tar_of(("l", tarfile.SYMTYPE, b"files")), "archive_link"),
    "tar-hardlink": (tar_of(("h", tarfile.LNKTYPE, b"/etc/passwd")), "archive_link"),
    "tar-device": (tar_of(("d", tarfile.CHRTYPE, b"")), "archive_link"),
    "tar-fifo": (tar_of(("f", tarfile.FIFOTYPE, b"")), "archive_link"),
    "tar-gz-dotdot": (tar_of(("../x", tarfile.REGTYPE, b"x"), compression="gz"), "archive_member"),
    "not-an-archive": (b"just some bytes", "archive_invalid"),
    "truncated-zip": (zip_of(("a", b"x" * 100))[:60], "archive_invalid"),
}  # fmt: skip


@pytest.mark.parametrize("name", BAD_ARCHIVES)
def test_an_archive_with_a_bad_member_is_refused_whole(world, name):
    storage, base, before = world
    archive, problem = BAD_ARCHIVES[name]
    acme_before = acme_files(base)

    with pytest.raises(ArchiveRefused) as refused:
        storage.extract_archive("acme", archive, "archives/upload")

    assert refused.value.problem == problem
    assert outside_state(base) == before
    assert acme_files(base) == acme_before  # nothing written, not even a part


def test_an_archive_over_the_byte_limit_is_stopped_while_reading():
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("zeros", b"\0" * 2_000_000)

    with pytest.raises(ArchiveRefused) as refused:
        read_archive(bomb.getvalue(), max_bytes=1_000_000)

    assert refused.value.problem == "archive_too_large"


def test_an_archive_with_too_many_members_is_refused():
    archive = zip_of(*((f"f{i}", b"") for i in range(11)))

    with pytest.raises(ArchiveRefused, match="not allowed"):
        read_archive(archive, max_members=10)


@pytest.mark.parametrize(
    "archive",
    [
        zip_of(("docs/a.txt", b"A"), ("docs/", b""), ("b.txt", b"B")),
        tar_of(("./docs/a.txt", tarfile.REGTYPE, b"A"), ("./b.txt", tarfile.REGTYPE, b"B")),
        tar_of(("docs", tarfile.DIRTYPE, b""), ("docs/a.txt", tarfile.REGTYPE, b"A"),
               ("b.txt", tarfile.REGTYPE, b"B"), compression="gz"),
    ],
    ids=["zip", "tar-dot-slash", "tar-gz"],
)  # fmt: skip
def test_a_good_archive_is_extracted_below_its_destination(tmp_path, archive):
    storage = TenantStorage(tmp_path)

    entries = storage.extract_archive("acme", archive, "archives/upload")

    assert sorted(entry.path for entry in entries) == ["b.txt", "docs/a.txt"]
    assert storage.read_bytes("acme", "archives/upload/docs/a.txt") == b"A"
    assert [e.path for e in storage.entries("acme", "archives/upload")] == [
        "b.txt",
        "docs/a.txt",
    ]
    hidden = [p for p in (tmp_path / "storage/tenants/acme").rglob(".*")]
    assert hidden == []  # no staging directory left behind


def test_extracting_again_replaces_the_previous_tree(tmp_path):
    storage = TenantStorage(tmp_path)
    storage.extract_archive("acme", zip_of(("old.txt", b"1")), "archives/upload")

    storage.extract_archive("acme", zip_of(("new.txt", b"2")), "archives/upload")

    assert [e.path for e in storage.entries("acme", "archives/upload")] == ["new.txt"]
    assert storage.usage("acme") == 1
