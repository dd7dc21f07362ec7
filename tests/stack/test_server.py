"""`python -m stack` serves the stack over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from stack.__main__ import parser, settings_from

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(
    url: str, process: subprocess.Popen, timeout: float = 20.0
) -> requests.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode()
        try:
            return requests.get(url, timeout=1)
        except requests.ConnectionError:
            time.sleep(0.1)
    pytest.fail(f"the stack did not answer at {url} within {timeout}s")


def test_options_become_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("TENANTGUARD_STORAGE_DIR", str(tmp_path))
    options = parser().parse_args(
        [
            "--engine",
            "opa",
            "--opa-url",
            "http://opa:8181",
            "--variant",
            "alg_none_accepted",
        ]
    )

    settings = settings_from(options)

    assert (settings.engine, settings.opa_url, settings.variant) == (
        "opa",
        "http://opa:8181",
        "alg_none_accepted",
    )


def test_python_m_stack_serves_health_and_the_api(tmp_path):
    port = _free_port()
    environ = {
        **os.environ,
        "TENANTGUARD_OPERATOR_KEY": "op-key",
        "PYTHONPATH": str(REPO),
    }
    command = [
        sys.executable,
        "-m",
        "stack",
        "--port",
        str(port),
        "--storage-dir",
        str(tmp_path),
    ]
    process = subprocess.Popen(
        command,
        env=environ,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        health = _wait_for(f"{base}/health", process)
        created = requests.post(
            f"{base}/admin/tenants",
            json={"id": "acme"},
            headers={"X-Operator-Key": "op-key"},
            timeout=5,
        )
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stderr.close()

    assert health.json() == {"status": "ok", "engine": "embedded"}
    assert "date" not in health.headers and "server" not in health.headers
    assert created.status_code == 201
