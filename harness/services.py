"""Services started as ordinary local processes: OPA, for tests and runs.

Everything listens on loopback only, on a free port, and is stopped by the
context manager that started it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import requests

from enforcement.errors import UsageError
from harness import tools


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_healthy(url: str, *, timeout: float = 20.0, process=None) -> None:
    """Poll `url` until it answers 200, the process dies, or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"process exited with {process.returncode} before {url} was healthy"
            )
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=1.0).status_code == 200:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{url} not healthy after {timeout:.0f} s")


class OpaProcess:
    """`opa run --server` on a free loopback port, with policies and data."""

    def __init__(
        self,
        policy_dir: Path,
        data_files: Iterable[Path] = (),
        *,
        binary: Path | None = None,
        port: int | None = None,
    ) -> None:
        self.binary = binary or tools.find("opa")
        if self.binary is None:
            raise UsageError(tools.missing_help(tools.OPA))
        self.policy_dir = Path(policy_dir)
        self.data_files = [Path(path) for path in data_files]
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen | None = None
        # Kept open for the life of the process, closed by stop().
        self._log = tempfile.TemporaryFile()  # noqa: SIM115

    def __enter__(self) -> OpaProcess:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def command(self) -> list[str]:
        paths = [str(self.policy_dir), *map(str, self.data_files)]
        return [
            str(self.binary), "run", "--server",
            "--addr", f"127.0.0.1:{self.port}",
            "--log-level", "error",
            "--ignore", "*_test.rego",
            *paths,
        ]  # fmt: skip

    def start(self) -> None:
        self._process = subprocess.Popen(
            self.command(), stdout=self._log, stderr=subprocess.STDOUT
        )
        try:
            wait_until_healthy(f"{self.url}/health", process=self._process)
        except RuntimeError as exc:
            output = self.output()
            self.stop()
            raise RuntimeError(f"OPA did not start: {exc}\n{output}") from exc

    def output(self) -> str:
        if self._log.closed:
            return ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def kill(self) -> None:
        """Stop at once, with no chance to finish in-flight requests."""
        if self.is_running():
            self._process.send_signal(signal.SIGKILL)
            self._process.wait()

    def stop(self) -> None:
        """Terminate (then kill) the process and release its log; idempotent."""
        if self.is_running():
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


def start_opa(
    policy_dir: Path, data_files: Iterable[Path] = (), binary: Path | None = None
) -> OpaProcess:
    """Start OPA and return the running process; use it as a context manager."""
    opa = OpaProcess(policy_dir, data_files, binary=binary)
    opa.start()
    return opa


class PostgresCluster:
    """A throwaway PostgreSQL cluster: initdb in a temporary directory, the
    server on a free loopback port and a private socket directory, removed on
    stop. Needs Debian's `postgresql` package (initdb, pg_ctl)."""

    def __init__(self, *, bin_dir: Path | None = None, port: int | None = None) -> None:
        self.bin_dir = bin_dir or find_postgres_bin()
        self.port = port or free_port()
        self._scratch = tempfile.TemporaryDirectory(prefix="tenantguard-pg-")
        self.data_dir = Path(self._scratch.name) / "data"
        self.socket_dir = Path(self._scratch.name)
        self.superuser = "tenantguard_admin"

    def __enter__(self) -> PostgresCluster:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def url(
        self,
        user: str | None = None,
        password: str | None = None,
        database: str = "postgres",
    ) -> str:
        """A SQLAlchemy URL (psycopg 3) for `user` over TCP on loopback."""
        credentials = user or self.superuser
        if password:
            credentials += f":{password}"
        return f"postgresql+psycopg://{credentials}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, app_role: str) -> tuple[str, str]:
        """A new database owned by the superuser, and an application role that
        may log in but owns nothing and cannot bypass row-level security.
        Returns (owner URL, application URL)."""
        import sqlalchemy as sa

        admin = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
            exists = connection.exec_driver_sql(
                "SELECT 1 FROM pg_roles WHERE rolname = %(role)s", {"role": app_role}
            ).scalar()
            if not exists:
                connection.exec_driver_sql(
                    f'CREATE ROLE "{app_role}" LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB'
                )
        admin.dispose()
        return self.url(database=name), self.url(user=app_role, database=name)

    def start(self) -> None:
        owner = _as_postgres_user()
        if owner:
            os.chown(self._scratch.name, owner["user"], owner["group"])
        self._run("initdb", "-D", self.data_dir, "-U", self.superuser, "--auth=trust",
                  "--no-sync", "-E", "UTF8", "--locale=C.UTF-8")  # fmt: skip
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.socket_dir} -c fsync=off"
        self._run("pg_ctl", "-D", self.data_dir, "-o", options, "-l",
                  self.socket_dir / "server.log", "-w", "-t", "30", "start")  # fmt: skip

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", self.data_dir, "-m", "immediate", "-w", "stop")
        self._scratch.cleanup()

    def _run(self, program: str, *args) -> None:
        command = [str(self.bin_dir / program), *map(str, args)]
        done = subprocess.run(
            command, capture_output=True, text=True, check=False, **_as_postgres_user()
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}"
            )


def find_postgres_bin() -> Path:
    """The directory holding initdb and pg_ctl (Debian keeps them off PATH)."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda initdb: _version_key(initdb.parent.parent.name),
        reverse=True,
    )
    if candidates:
        return candidates[0].parent
    raise UsageError(
        "PostgreSQL's initdb was not found. Install the server binaries "
        "(Debian/Ubuntu: `apt-get install postgresql`; macOS: `brew install postgresql`)."
    )


def _version_key(name: str) -> tuple[int, ...]:
    # Debian names the folders by major version ("15", "9.6"); newest first
    # means numeric order, not string order.
    return tuple(int(part) for part in re.findall(r"\d+", name))


def _as_postgres_user() -> dict:
    # initdb refuses to run as root; drop to the `postgres` system user that
    # Debian's package creates, and let it own the scratch directory.
    if os.geteuid() != 0:
        return {}
    import pwd

    try:
        account = pwd.getpwnam("postgres")
    except KeyError as exc:
        raise UsageError(
            "running as root needs the 'postgres' system user (apt-get install postgresql)"
        ) from exc
    return {"user": account.pw_uid, "group": account.pw_gid}
