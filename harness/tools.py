"""The pinned external tools (OPA, Regal): where they live and how to build them.

Tools are built with `go install` into a cache directory,
`$TENANTGUARD_TOOLS` or `~/.cache/tenantguard/tools`, one folder per tool and
version, and reused while the pinned version is there. Only the standard
library is used here, so the installer runs before any dependency is.

    python3 -m harness.tools install     # build what is missing, say what it did
    python3 -m harness.tools path opa    # print the binary to use
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Tool:
    name: str
    module: str
    version: str

    @property
    def binary(self) -> Path:
        return cache_dir() / f"{self.name}-{self.version}" / self.name


# OPA v1.23.0 is not served by the Go module proxy this project builds from;
# v1.22.4 is the newest release that is.
OPA = Tool("opa", "github.com/open-policy-agent/opa", "v1.22.4")
REGAL = Tool("regal", "github.com/open-policy-agent/regal", "v0.42.0")
TOOLS = {tool.name: tool for tool in (OPA, REGAL)}

RELEASES = {
    "opa": "https://github.com/open-policy-agent/opa/releases (or `brew install opa`)",
    "regal": "https://github.com/open-policy-agent/regal/releases (or `brew install regal`)",
}


def cache_dir() -> Path:
    configured = os.environ.get("TENANTGUARD_TOOLS")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tenantguard" / "tools"


def find(name: str) -> Path | None:
    """The binary to use for `name`: the environment, the cache, then PATH."""
    tool = TOOLS[name]
    override = os.environ.get(f"TENANTGUARD_{name.upper()}")
    if override:
        return Path(override) if Path(override).is_file() else None
    if tool.binary.is_file():
        return tool.binary
    on_path = shutil.which(name)
    return Path(on_path) if on_path else None


def install(tool: Tool, out=sys.stdout) -> Path:
    """Build `tool` into the cache unless its pinned version is already there."""
    if tool.binary.is_file():
        print(f"{tool.name} {tool.version}: cached at {tool.binary}", file=out)
        return tool.binary
    go = shutil.which("go")
    if go is None:
        raise SystemExit(missing_help(tool))

    print(f"{tool.name} {tool.version}: building with go (a few minutes)...", file=out)
    tool.binary.parent.mkdir(parents=True, exist_ok=True)
    if not _go_install(go, tool):
        _go_build_from_module_cache(go, tool)
    print(f"{tool.name} {tool.version}: built {tool.binary}", file=out)
    return tool.binary


def _go_install(go: str, tool: Tool) -> bool:
    env = dict(os.environ, GOBIN=str(tool.binary.parent))
    done = subprocess.run(
        [go, "install", f"{tool.module}@{tool.version}"], env=env, check=False
    )
    return done.returncode == 0 and tool.binary.is_file()


def _go_build_from_module_cache(go: str, tool: Tool) -> None:
    # `go install m@v` also asks the proxy for the module's version list (to
    # report deprecations); some proxies refuse that list while serving the
    # version itself. Downloading the version and building inside its module
    # needs only the version and its go.sum.
    print(
        f"{tool.name}: go install failed; building from the module source",
        file=sys.stderr,
    )
    with tempfile.TemporaryDirectory() as scratch:
        env = dict(os.environ, GOFLAGS="-mod=mod")
        source = subprocess.run(
            [go, "mod", "download", "-json", f"{tool.module}@{tool.version}"],
            env=env,
            cwd=scratch,
            check=True,
            capture_output=True,
            text=True,
        )
        module_dir = json.loads(source.stdout)["Dir"]
        subprocess.run(
            [go, "build", "-o", str(tool.binary), "."],
            env=env,
            cwd=module_dir,
            check=True,
        )


def missing_help(tool: Tool) -> str:
    """What to tell a user who has no usable `tool`."""
    where = f"${{TENANTGUARD_{tool.name.upper()}}}, {tool.binary} and PATH"
    text = f"{tool.name} {tool.version} was not found (looked at {where}).\n"
    if shutil.which("go"):
        return text + f"Build it with: python3 -m harness.tools install {tool.name}\n"
    return text + (
        "Go is not installed, so it cannot be built here. Install Go "
        "(https://go.dev/dl/ or your package manager) and run "
        f"`python3 -m harness.tools install {tool.name}`, or download the "
        f"{tool.version} release binary from {RELEASES[tool.name]} and put it on "
        f"PATH or in TENANTGUARD_{tool.name.upper()}.\n"
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["install"]:
        for tool in (TOOLS[name] for name in (args[1:] or TOOLS)):
            install(tool)
        return 0
    if len(args) == 2 and args[0] == "path" and args[1] in TOOLS:
        found = find(args[1])
        if found is None:
            print(missing_help(TOOLS[args[1]]), file=sys.stderr)
            return 1
        print(found)
        return 0
    print(
        "usage: python3 -m harness.tools install [opa|regal] | path opa|regal",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())
