"""Fixtures of the harness tests: a fake API, a target on it, scenario files."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness import profile as profiles
from harness import scenario as scenarios
from harness.target import Target
from tests.harness.fakeapi import PROFILE, FakeApi


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
def profile_path(tmp_path: Path) -> Path:
    path = tmp_path / "fake-profile.yaml"
    path.write_text(PROFILE)
    return path


@pytest.fixture
def target(api: FakeApi, profile_path: Path) -> Target:
    return Target(profiles.load(profile_path), "http://fake", api, sleep=lambda _: None)


@pytest.fixture
def write(tmp_path: Path):
    """Write a YAML file (dedented) and return its path."""

    def write(text: str, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write


@pytest.fixture
def load(write):
    """Write a scenario and load it."""

    def load(text: str) -> scenarios.Scenario:
        return scenarios.load(write(text))

    return load
