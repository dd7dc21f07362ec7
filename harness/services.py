"""Services started as ordinary local processes: OPA, for tests and runs.

Everything listens on loopback only, on a free port, and is stopped by the
context manager that started it.
"""

from __future__ import annotations

import contextlib
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
