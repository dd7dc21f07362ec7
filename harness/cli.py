"""`tenantguard`: run the attack scenarios, serve the reference stack, get tools.

    tenantguard run [--target PROFILE] [--engine opa|embedded] [-n N] [--seed N]
                    [PATHS or ITEM IDS...]
    tenantguard selftest [--engine opa|embedded] [--runs N] [PATHS...]
    tenantguard coverage [PATHS...] [--output FILE]
    tenantguard load [--users N] [--spawn-rate R] [--duration S] [--tenants N]
                     [--api-workers N] [--db sqlite|postgres|URL] [--processes N]
    tenantguard stack serve --engine opa|embedded --db URL --port N --variant NAME
    tenantguard tools install [opa|regal] | path opa|regal
    tenantguard policy test [POLICY_DIR] | data CONFIG_FILE | check [POLICY_DIR]

`run` with no --target starts the reference stack (real OPA from the tool
cache when there is one, SQLite in a temporary directory), runs the
scenarios through pytest in parallel, writes JUnit XML, JSON, SARIF and an
HTML page, prints the technique-by-resource matrix, stops everything it
started, and exits non-zero on any breach.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import os
import random
import shlex
import signal
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from enforcement.errors import TenantGuardError

REPO = Path(__file__).resolve().parent.parent
PLUGIN = "harness.pytest_plugin"
REPORT_FILES = ("junit.xml", "report.json", "report.sarif", "report.html")
# Options for the scenario run itself, whatever the project's pytest settings.
_PYTEST_INI = "[pytest]\nconsole_output_style = progress\n"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="tenantguard", description=__doc__.splitlines()[0]
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run(commands)
    _add_selftest(commands)
    _add_coverage(commands)
    _add_stack(commands)
    _add_policy(commands)
    _add_load(commands)
    tools = commands.add_parser("tools", help="install or locate OPA and Regal")
    tools.add_argument(
        "arguments", nargs=argparse.REMAINDER, help="install [NAME...] | path NAME"
    )
    audit = commands.add_parser(
        "audit", help="verify or export the audit log's hash chain", add_help=False
    )
    audit.add_argument(
        "arguments", nargs=argparse.REMAINDER, help="verify --db URL | export --db URL"
    )
    keys = commands.add_parser(
        "keys", help="rotate a tenant's keys; re-encrypt its secrets", add_help=False
    )
    keys.add_argument(
        "arguments", nargs=argparse.REMAINDER, help="rotate TENANT | reencrypt TENANT"
    )
    return top


_RUN_OPTIONS = (
    (
        ("paths",),
        dict(
            nargs="*",
            type=Path,
            help="scenario files, folders or item IDs such as "
            "'scenarios/a01-read-foreign-object.yaml::read-foreign-object[agent]' "
            "(default: scenarios/)",
        ),
    ),
    (
        ("--target",),
        dict(
            metavar="PROFILE",
            help="target profile (shipped name or YAML file); default: start the reference stack",
        ),
    ),
    (
        ("--base-url",),
        dict(metavar="URL", help="base URL of the target (overrides the profile)"),
    ),
    (
        ("--engine",),
        dict(
            choices=("auto", "opa", "embedded"),
            default="auto",
            help="policy engine of the started stack (default auto: OPA when found)",
        ),
    ),
    (
        ("--variant",),
        dict(
            metavar="NAME",
            help="start a deliberately vulnerable build of the reference stack",
        ),
    ),
    (
        ("--db",),
        dict(
            metavar="URL",
            help="database of the started stack (default: SQLite in a temporary folder)",
        ),
    ),
    (
        ("-n", "--workers"),
        dict(
            default="auto",
            metavar="N",
            help="pytest-xdist workers, 0 for none (default: auto)",
        ),
    ),
    (
        ("--report-dir",),
        dict(
            type=Path,
            default=Path("tenantguard-report"),
            help="where junit.xml, report.json, report.sarif and report.html go "
            "(default: ./tenantguard-report)",
        ),
    ),
    (
        ("--seed",),
        dict(
            type=int,
            metavar="N",
            help="seed of every random value the scenarios draw (default: random; "
            "recorded in the reports)",
        ),
    ),
    (
        ("-k",),
        dict(
            dest="keyword",
            metavar="EXPR",
            help="only scenarios matching EXPR (pytest -k: names, techniques, resources)",
        ),
    ),
)


def _add_run(commands) -> None:
    run = commands.add_parser("run", help="run attack scenarios against a target")
    for flags, settings in _RUN_OPTIONS:
        run.add_argument(*flags, **settings)


def _add_selftest(commands) -> None:
    selftest = commands.add_parser(
        "selftest",
        help="run the catalogue against the correct stack and every vulnerable "
        "variant; print the kill matrix",
    )
    selftest.add_argument(
        "paths", nargs="*", type=Path, help="scenario files or folders"
    )
    selftest.add_argument(
        "--engine", choices=("auto", "opa", "embedded"), default="auto",
        help="policy engine of the stacks (default auto: OPA when found)",
    )  # fmt: skip
    selftest.add_argument(
        "--runs", type=int, default=1, help="consecutive runs (default 1)"
    )
    selftest.add_argument(
        "--variant", dest="variants", action="append", metavar="NAME",
        help="only this variant (repeatable; 'correct' is the correct stack)",
    )  # fmt: skip
    selftest.add_argument(
        "-n", "--workers", default="auto", metavar="N",
        help="pytest-xdist workers per run (default: auto)",
    )  # fmt: skip
    selftest.add_argument("--seed", type=int, metavar="N", help="seed of every run")
    selftest.add_argument(
        "--report-dir",
        type=Path,
        default=Path("tenantguard-selftest"),
        help="where each run's reports and selftest.json go",
    )


def _add_coverage(commands) -> None:
    coverage = commands.add_parser(
        "coverage", help="print the technique-to-scenarios table as Markdown"
    )
    coverage.add_argument(
        "paths", nargs="*", type=Path, help="scenario files or folders"
    )
    coverage.add_argument(
        "--output", type=Path, metavar="FILE", help="write it to FILE instead"
    )
    coverage.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if FILE (--output) differs from the table, writing nothing",
    )


def _add_stack(commands) -> None:
    stack = commands.add_parser("stack", help="the reference stack")
    actions = stack.add_subparsers(dest="action", required=True, metavar="ACTION")
    serve = actions.add_parser(
        "serve", help="serve the reference stack in the foreground"
    )
    serve.add_argument(
        "--engine", choices=("embedded", "opa"), help="policy engine (default embedded)"
    )
    serve.add_argument("--opa-url", help="OPA server URL, for --engine opa")
    serve.add_argument(
        "--policy-dir", type=Path, help="Rego policies, for --engine embedded"
    )
    serve.add_argument(
        "--db", dest="db_url", help="SQLAlchemy URL (default SQLite in the storage dir)"
    )
    serve.add_argument(
        "--storage-dir", type=Path, help="where files and the SQLite database live"
    )
    serve.add_argument("--variant", help="a deliberately vulnerable build")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-level", default="info")


def _add_policy(commands) -> None:
    policy = commands.add_parser("policy", help="check the Rego tenant rules")
    actions = policy.add_subparsers(dest="action", required=True, metavar="ACTION")
    test = actions.add_parser(
        "test", help="opa check --strict, opa fmt, opa test --coverage, regal lint"
    )
    test.add_argument("policy_dir", nargs="?", type=Path, default=REPO / "policies")
    data = actions.add_parser(
        "data", help="print the OPA data document for a tenant configuration file"
    )
    data.add_argument("config_file", type=Path)
    from harness.invariants import cli as invariants

    invariants.add_arguments(
        actions.add_parser(
            "check", help="attack the rules with generated inputs (invariants)"
        )
    )


def _add_load(commands) -> None:
    from harness.load import command as load  # never imports locust itself

    load.add_arguments(
        commands.add_parser(
            "load", help="race many tenants for their quotas with Locust; verify"
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["audit"]:  # its own parser, so `audit verify --help` works
        from enforcement import audit_cli

        return audit_cli.main(argv[1:])
    if argv[:1] == ["keys"]:
        from stack import keys

        return keys.main(argv[1:])
    options = parser().parse_args(argv)
    try:
        with _interrupts_as_keyboard_interrupt():
            return _dispatch(options)
    except TenantGuardError as exc:
        print(f"tenantguard: {exc}", file=sys.stderr)
        return 4
    except KeyboardInterrupt:
        print(
            "tenantguard: interrupted; everything it started is stopped",
            file=sys.stderr,
        )
        return 130


def _dispatch(options: argparse.Namespace) -> int:
    if options.command == "tools":
        from harness import tools

        return tools.main(options.arguments)
    if options.command == "stack":
        return serve_stack(options)
    if options.command == "policy":
        return _policy(options)
    if options.command == "selftest":
        return _selftest(options)
    if options.command == "coverage":
        return _coverage(options)
    if options.command == "load":
        from harness.load import command as load

        return load.run(options, echo=lambda line: print(line, flush=True))
    return run(options)


def _selftest(options: argparse.Namespace) -> int:
    from harness import selftest

    paths = [str(path) for path in options.paths] or [str(_default_scenarios())]
    return selftest.selftest(options, paths, echo=lambda line: print(line, flush=True))


def _coverage(options: argparse.Namespace) -> int:
    from harness import coverage

    paths = options.paths or [_default_scenarios()]
    text = coverage.markdown(coverage.load_all(paths))
    if options.output is None:
        print(text, end="")
        return 0
    if options.check:
        current = options.output.read_text() if options.output.is_file() else ""
        if current == text:
            return 0
        print(
            f"tenantguard: {options.output} is not the coverage of {', '.join(map(str, paths))}"
            f"; regenerate it with `tenantguard coverage --output {options.output}`",
            file=sys.stderr,
        )
        return 1
    options.output.write_text(text, encoding="utf-8")
    return 0


def _policy(options: argparse.Namespace) -> int:
    from harness import policy_cmd

    if options.action == "data":
        return policy_cmd.print_data_document(options.config_file)
    if options.action == "check":
        from harness.invariants import cli as invariants

        return invariants.run(options)
    return policy_cmd.run_policy_tests(options.policy_dir)


@contextlib.contextmanager
def _interrupts_as_keyboard_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so every `finally` stops what it started."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def serve_stack(options: argparse.Namespace) -> int:
    from stack.__main__ import settings_from
    from stack.server import serve

    settings = settings_from(options)
    serve(settings, options.host, options.port, log_level=options.log_level)
    return 0


def run(options: argparse.Namespace) -> int:
    paths = [str(path) for path in options.paths] or [str(_default_scenarios())]
    if options.seed is None:
        options.seed = random.SystemRandom().randrange(2**32)
    if options.target or options.base_url:
        return _run_pytest(options, paths, {})

    from harness.stackproc import ReferenceStack

    with tempfile.TemporaryDirectory(prefix="tenantguard-stack-") as workdir:
        stack = ReferenceStack(
            Path(workdir),
            engine=options.engine,
            variant=options.variant,
            db_url=options.db,
        )
        with stack:
            print(f"tenantguard: {stack.describe()}", flush=True)
            return _run_pytest(options, paths, stack.harness_environment(), stack.url)


def _default_scenarios() -> Path:
    here = Path.cwd() / "scenarios"
    return here if here.is_dir() else REPO / "scenarios"


def _run_pytest(
    options, paths: list[str], environment: dict[str, str], base_url: str | None = None
) -> int:
    import pytest

    report_dir = options.report_dir.resolve()
    report_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tenantguard-pytest-") as scratch:
        ini = Path(scratch) / "pytest.ini"
        ini.write_text(_PYTEST_INI, encoding="utf-8")
        arguments = pytest_arguments(options, paths, ini, report_dir, base_url)
        with _environment(environment):
            code = int(pytest.main(arguments))
    names = ", ".join(str(report_dir / name) for name in REPORT_FILES)
    print(f"tenantguard: seed {options.seed}; reports in {names}")
    return code


def pytest_arguments(
    options, paths: list[str], ini: Path, report_dir: Path, base_url: str | None
) -> list[str]:
    """The pytest command line of a scenario run."""
    arguments = [*plugin_arguments(), "-c", str(ini), "--rootdir", str(Path.cwd())]
    arguments += ["-p", "no:cacheprovider", "-o", "junit_family=xunit2"]
    # This process imported `harness` before pytest loads it as a plugin, so
    # pytest cannot rewrite its asserts; findings never rely on them.
    arguments += ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    arguments += ["--junitxml", str(report_dir / "junit.xml")]
    arguments += ["--tg-report", str(report_dir / "report.json")]
    arguments += ["--tg-sarif", str(report_dir / "report.sarif")]
    arguments += ["--tg-html", str(report_dir / "report.html")]
    arguments += ["--tg-seed", str(options.seed), "--tg-rerun", rerun_template(options)]
    arguments += ["--tg-command", shlex.join(["tenantguard", *sys.argv[1:]])]
    if options.target:
        arguments += ["--tg-target", options.target]
    if options.base_url or base_url:
        arguments += ["--tg-base-url", options.base_url or base_url]
    if str(options.workers) not in ("0", ""):
        arguments += ["-n", str(options.workers)]
    if options.keyword:
        arguments += ["-k", options.keyword]
    for path in paths:
        arguments += ["--tg-scenarios", path] if Path(path).is_dir() else []
    return arguments + paths


def rerun_template(options) -> str:
    """`tenantguard run` for one item, with this run's target, stack and seed."""
    words = ["tenantguard", "run"]
    for flag, value in (
        ("--target", options.target),
        ("--base-url", options.base_url),
        ("--variant", options.variant),
        ("--db", options.db),
    ):
        if value:
            words += [flag, str(value)]
    if not (options.target or options.base_url) and options.engine != "auto":
        words += ["--engine", options.engine]
    command = shlex.join(words).replace("{", "{{").replace("}", "}}")
    return command + " --seed {seed} {item}"


def plugin_arguments() -> list[str]:
    """`-p harness.pytest_plugin` unless the pytest11 entry point loads it already."""
    entry_points = importlib.metadata.entry_points(group="pytest11")
    registered = any(entry.value.split(":")[0] == PLUGIN for entry in entry_points)
    return [] if registered else ["-p", PLUGIN]


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


if __name__ == "__main__":
    sys.exit(main())
