"""The reference stack as a child process, for `tenantguard run` and tests.

It listens on a free loopback port, keeps SQLite and files in a directory of
its own, and is given fresh secrets, which `harness_environment()` hands to
the harness (the reference profile reads them from the environment). With
real OPA from the tool cache it evaluates policies there, else in-process.
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

from enforcement.errors import UsageError
from harness import tools
from harness.services import OpaProcess, free_port, wait_until_healthy

log = logging.getLogger("tenantguard.harness")

REPO = Path(__file__).resolve().parent.parent
POLICY_DIR = REPO / "policies"
ENGINES = ("auto", "opa", "embedded")


class ReferenceStack:
    """`python -m stack` on a free port; a context manager that always stops it."""

    def __init__(
        self,
        workdir: Path,
        *,
        engine: str = "auto",
        variant: str | None = None,
        db_url: str | None = None,
        startup_timeout: float = 60.0,
        workers: int = 1,
        db_owner_url: str | None = None,
    ) -> None:
        if engine not in ENGINES:
            raise UsageError(f"engine must be one of {ENGINES}, got {engine!r}")
        self.workdir, self.engine, self.variant = Path(workdir), engine, variant
        self.db_url = db_url or f"sqlite:///{self.workdir / 'stack.db'}"
        self.startup_timeout = startup_timeout
        self.workers, self.db_owner_url = workers, db_owner_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.operator_key = secrets.token_urlsafe(32)
        self.jwt_secret = secrets.token_urlsafe(32)
        self.opa: OpaProcess | None = None
        self._process: subprocess.Popen | None = None
        self._log = tempfile.TemporaryFile()  # noqa: SIM115  closed by stop()

    def __enter__(self) -> ReferenceStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def harness_environment(self) -> dict[str, str]:
        """What the reference profile reads: the operator key and signing secret."""
        return {
            "TENANTGUARD_OPERATOR_KEY": self.operator_key,
            "TENANTGUARD_JWT_SECRET": self.jwt_secret,
            "TENANTGUARD_BASE_URL": self.url,
        }

    def describe(self) -> str:
        engine = f"OPA at {self.opa.url}" if self.opa else "the embedded engine"
        variant = self.variant or "correct"
        return f"reference stack ({variant}) at {self.url}, {engine}"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        command = [*self._command(), *self._engine_arguments()]
        log.info("starting %s", " ".join(command))
        self._process = subprocess.Popen(
            command,
            cwd=REPO,
            env=self._environment(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_healthy(
                f"{self.url}/health",
                timeout=self.startup_timeout,
                process=self._process,
            )
        except RuntimeError as exc:
            raise RuntimeError(
                f"the reference stack did not start: {exc}\n{self.output()}"
            ) from None

    def _command(self) -> list[str]:
        command = [
            sys.executable, "-m", "stack",
            "--port", str(self.port),
            "--db", self.db_url,
            "--storage-dir", str(self.workdir),
            "--log-level", "warning",
        ]  # fmt: skip
        command += ["--workers", str(self.workers)] if self.workers > 1 else []
        return command + (["--variant", self.variant] if self.variant else [])

    def _engine_arguments(self) -> list[str]:
        binary = tools.find("opa") if self.engine != "embedded" else None
        if binary is None and self.engine == "opa":
            raise UsageError(tools.missing_help(tools.OPA))
        if binary is None:
            return ["--engine", "embedded"]
        self.opa = OpaProcess(POLICY_DIR, binary=binary)
        self.opa.start()
        return ["--engine", "opa", "--opa-url", self.opa.url]

    def _environment(self) -> dict[str, str]:
        environment = dict(os.environ)
        environment.update(
            TENANTGUARD_OPERATOR_KEY=self.operator_key,
            TENANTGUARD_JWT_SECRET=self.jwt_secret,
            TENANTGUARD_KEK=secrets.token_hex(32),
            PYTHONPATH=os.pathsep.join(
                filter(None, [str(REPO), environment.get("PYTHONPATH")])
            ),
        )
        if self.db_owner_url:  # PostgreSQL: tables and row-level security
            environment["TENANTGUARD_DB_OWNER_URL"] = self.db_owner_url
        return environment

    def output(self) -> str:
        if self._log.closed:
            return ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def stop(self) -> None:
        """Stop the stack, then OPA; safe to call twice and after a failed start."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self.opa is not None:
            self.opa.stop()
        self._log.close()
