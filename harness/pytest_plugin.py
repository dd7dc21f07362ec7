"""tenantguard's pytest plugin: scenario files become items, breaches failures.

Registered through the `pytest11` entry point, it loads in every pytest run,
so it stays inert unless scenario items are collected. A YAML file is a
scenario only when it was passed explicitly, lies under a folder named
`scenarios`, or lies under a folder given with `--tg-scenarios`.

    pytest scenarios/ --tg-base-url http://127.0.0.1:8000 -n auto \
        --tg-report report.json --tg-sarif report.sarif --tg-html report.html \
        --junitxml junit.xml --tg-seed 1234

Every random value an item draws (canaries, `{{unique}}`, the look-alike IDs
of control requests) comes from the run's seed and the item's name, so an
item draws the same values alone or among others, on any xdist worker.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import random
import shlex
import time
from pathlib import Path
from typing import Any

import pytest

from enforcement.errors import TenantGuardError
from harness import findings as render
from harness import profile as profiles
from harness import reports
from harness import scenario as scenarios
from harness.errors import ScenarioError
from harness.http import RequestsTransport
from harness.runner import ItemRun, ItemSkipped
from harness.target import Target

BASE_URL_ENV = "TENANTGUARD_BASE_URL"
_TARGET = pytest.StashKey["Target | Exception"]()
_SEED = pytest.StashKey[int]()
# How to re-run one item: `{seed}` and `{item}` (its node ID) are filled in.
DEFAULT_RERUN = "pytest {item} --tg-seed {seed}"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tenantguard", "tenantguard attack scenarios")
    group.addoption(
        "--tg-target",
        metavar="PROFILE",
        help="target profile: a shipped name (reference) or a YAML file",
    )
    group.addoption(
        "--tg-base-url",
        metavar="URL",
        help=f"base URL of the target (overrides the profile and ${BASE_URL_ENV})",
    )
    group.addoption(
        "--tg-report",
        metavar="PATH",
        help="write the JSON report of scenario items here",
    )
    group.addoption(
        "--tg-sarif",
        metavar="PATH",
        help="write the SARIF 2.1.0 report (one result per finding) here",
    )
    group.addoption(
        "--tg-html",
        metavar="PATH",
        help="write the self-contained HTML report (the technique matrix) here",
    )
    group.addoption(
        "--tg-seed",
        metavar="N",
        type=int,
        help="seed of every random value the items draw (default: a random one, "
        "shown in the summary and the reports)",
    )
    group.addoption(
        "--tg-rerun",
        metavar="TEMPLATE",
        help="how findings tell to re-run one item, with {seed} and {item} "
        "(set by `tenantguard run`)",
    )
    group.addoption(
        "--tg-command",
        metavar="COMMAND",
        help="the command line the reports show (set by `tenantguard run`)",
    )
    group.addoption(
        "--tg-scenarios",
        metavar="DIR",
        action="append",
        default=[],
        help="also treat YAML files under DIR as scenarios (repeatable)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_SEED] = _seed(config)
    config.pluginmanager.register(Results(config), "tenantguard-results")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(SeedToWorkers(config), "tenantguard-seed")


def _seed(config: pytest.Config) -> int:
    """The option, else the controller's (on an xdist worker), else random."""
    chosen = config.getoption("tg_seed", None)
    if chosen is not None:
        return int(chosen)
    worker = getattr(config, "workerinput", {})
    if "tg_seed" in worker:
        return int(worker["tg_seed"])
    return random.SystemRandom().randrange(2**32)


def seed_of(config: pytest.Config) -> int:
    return config.stash[_SEED]


class SeedToWorkers:
    """Hands the controller's seed to every xdist worker."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_configure_node(self, node) -> None:
        node.workerinput["tg_seed"] = seed_of(self.config)


def rerun_command(config: pytest.Config, nodeid: str) -> str:
    """The command that runs the item `nodeid` alone, with the same seed."""
    template = config.getoption("tg_rerun", None) or _default_rerun(config)
    return template.format(seed=seed_of(config), item=shlex.quote(nodeid))


def _default_rerun(config: pytest.Config) -> str:
    extra = []
    for option, flag in (
        ("tg_target", "--tg-target"),
        ("tg_base_url", "--tg-base-url"),
    ):
        value = config.getoption(option, None)
        if value:
            extra.append(f"{flag} {shlex.quote(str(value))}")
    return " ".join([DEFAULT_RERUN, *extra])


# Collection -------------------------------------------------------------------


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    if not is_scenario_file(file_path, parent.session, parent.config):
        return None
    return ScenarioFile.from_parent(parent, path=file_path)


def is_scenario_file(
    path: Path, session: pytest.Session, config: pytest.Config
) -> bool:
    """Explicitly passed, under a `scenarios` folder, or under --tg-scenarios."""
    if session.isinitpath(path):
        return True
    try:
        parts = path.relative_to(config.rootpath).parts[:-1]
    except ValueError:
        parts = path.parts[:-1]
    if "scenarios" in parts:
        return True
    roots = [Path(root).resolve() for root in config.getoption("tg_scenarios") or ()]
    return any(path.resolve().is_relative_to(root) for root in roots)


class ScenarioFile(pytest.File):
    def collect(self):
        try:
            scenario = scenarios.load(self.path)
        except ScenarioError as exc:
            raise self.CollectError(str(exc)) from None
        for variant in scenario.variants:
            name = render.item_name(scenario, variant)
            yield ScenarioItem.from_parent(
                self, name=name, scenario=scenario, variant=variant
            )


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """A run with scenario items and no usable target stops before it starts.

    An xdist worker cannot stop the run this way (the controller would report a
    crash); there, each item errors with the same message instead."""
    if hasattr(config, "workerinput"):
        return
    if any(isinstance(item, ScenarioItem) for item in items):
        target = _target(config)
        if isinstance(target, Exception):
            raise pytest.UsageError(str(target))


# The target, once per process --------------------------------------------------


def _target(config: pytest.Config) -> Target | Exception:
    if _TARGET not in config.stash:
        try:
            config.stash[_TARGET] = _make_target(config)
        except TenantGuardError as exc:
            config.stash[_TARGET] = exc
    return config.stash[_TARGET]


def _make_target(config: pytest.Config) -> Target:
    profile = profiles.load(profiles.resolve(config.getoption("tg_target")))
    base_url = (
        config.getoption("tg_base_url")
        or os.environ.get(BASE_URL_ENV)
        or profile.base_url
    )
    if not base_url:
        raise ScenarioError(
            profile.path,
            None,
            "no base URL for the target: the profile gives none and none was passed",
            f"pass --tg-base-url URL (or set ${BASE_URL_ENV}), or run the scenarios "
            "with `tenantguard run`, which starts the reference stack itself",
        )
    return Target(profile, base_url, RequestsTransport())


def pytest_unconfigure(config: pytest.Config) -> None:
    target = config.stash.get(_TARGET, None)
    if isinstance(target, Target):
        target.transport.close()


# Items --------------------------------------------------------------------------


class Breach(Exception):
    """An item's findings, already rendered for the terminal."""


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario, variant, **kwargs) -> None:
        super().__init__(**kwargs)
        self.scenario, self.variant = scenario, variant
        self.run: ItemRun | None = None
        self.extra_keyword_matches.update(
            {*scenario.techniques, *scenario.owasp, scenario.resource_of(variant)}
            - {""}
        )
        self.user_properties += [
            ("scenario", f"{scenario.path}:{scenario.line}"),
            ("technique", " ".join(scenario.techniques)),
            ("owasp", " ".join(scenario.owasp)),
            ("resource", scenario.resource_of(variant)),
        ]

    def setup(self) -> None:
        target = _target(self.config)
        if isinstance(target, Exception):
            pytest.fail(str(target), pytrace=False)
        self.run = ItemRun(
            self.scenario, self.variant, target, seed=seed_of(self.config)
        )
        try:
            self.run.setup()
        except ItemSkipped as exc:
            pytest.skip(str(exc))
        except TenantGuardError as exc:
            failure = str(exc)
        else:
            return
        # Failed outside the except block: raised inside it, pytest would
        # print the message twice, once as the context of the other.
        pytest.fail(failure, pytrace=False)

    def runtest(self) -> None:
        try:
            findings = self.run.attack()
        except ItemSkipped as exc:
            pytest.skip(str(exc))
        if findings:
            text = render.render(
                self.scenario,
                self.variant,
                findings,
                self.run.secrets(),
                rerun=rerun_command(self.config, self.nodeid),
            )
            raise Breach(text)

    def repr_failure(self, excinfo, style=None):
        if excinfo.errisinstance((Breach, TenantGuardError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, self.scenario.line - 1, f"scenario {self.name}"

    def report_data(self) -> dict[str, Any]:
        """What the JSON report keeps about this item (plain, serialisable data)."""
        run, secrets = self.run, (self.run.secrets() if self.run else {})
        return {
            "id": self.scenario.id,
            "variant": self.variant.label,
            "name": self.name,
            "title": self.scenario.title,
            "description": self.scenario.description,
            "why": self.scenario.why,
            "fix": self.scenario.fix,
            "file": str(self.scenario.path),
            "line": self.scenario.line,
            "techniques": list(self.scenario.techniques),
            "owasp": list(self.scenario.owasp),
            "resource": self.scenario.resource_of(self.variant),
            "rerun": rerun_command(self.config, self.nodeid),
            "findings": [
                render.as_dict(f, secrets) for f in (run.findings if run else [])
            ],
            "exchanges": [
                render.exchange_dict(e, secrets) for e in (run.exchanges if run else [])
            ],
        }


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if isinstance(item, ScenarioItem) and (
        report.when == "call" or report.outcome != "passed"
    ):
        report.tenantguard = item.report_data()
    return report


# Results: JSON report and summary table (on the controller under xdist) ----------


class Results:
    """Collects scenario reports as they arrive, then reports on them."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.items: dict[str, dict[str, Any]] = {}
        self.started = time.time()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, "tenantguard", None)
        if data is None or (report.when == "teardown" and report.passed):
            return
        entry = dict(data, nodeid=report.nodeid, outcome=_outcome(report, data))
        entry["duration"] = round(report.duration, 3)
        if entry["outcome"] in ("error", "skipped"):
            entry["error"] = _longrepr_text(report)
        self.items[report.nodeid] = entry

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.items:
            return
        report = self.report()
        entries = report["items"]
        verbose = self.config.getoption("verbose") > 0
        shown = [e for e in entries if verbose or e["outcome"] != "passed"]
        terminalreporter.section("tenantguard scenarios")
        if shown:
            for line in table(
                ("scenario", "technique", "resource", "outcome"),
                [
                    (e["name"], " ".join(e["techniques"]), e["resource"], _shown(e))
                    for e in shown
                ],
            ):
                terminalreporter.write_line(line)
            terminalreporter.write_line("")
        for line in reports.matrix_lines(report):
            terminalreporter.write_line(line)
        terminalreporter.write_line("")
        counts = report["summary"]
        terminalreporter.write_line(
            ", ".join(f"{n} {name}" for name, n in counts.items())
        )
        terminalreporter.write_line(
            f"seed {report['seed']}; re-run one item alone: {report['rerun']}"
        )

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(self.config, "workerinput"):
            return
        outputs = (
            ("tg_report", lambda report: json.dumps(report, indent=2) + "\n"),
            ("tg_sarif", lambda report: json.dumps(reports.sarif(report), indent=2)),
            ("tg_html", reports.html),
        )
        chosen = [(self.config.getoption(o), make) for o, make in outputs]
        if any(path for path, _ in chosen):
            report = self.report()
            for path, make in chosen:
                if path:
                    write_text(Path(path), make(report))

    def report(self) -> dict[str, Any]:
        entries = sorted(self.items.values(), key=lambda entry: entry["nodeid"])
        seed = seed_of(self.config)
        return {
            "tool": "tenantguard",
            "version": _version(),
            "target": {
                "profile": self.config.getoption("tg_target") or "reference",
                "base_url": self.config.getoption("tg_base_url")
                or os.environ.get(BASE_URL_ENV),
            },
            "seed": seed,
            "command": self.config.getoption("tg_command")
            or shlex.join(["pytest", *self.config.invocation_params.args]),
            "rerun": rerun_command(self.config, "ITEM").replace("ITEM", "<item>"),
            "root": str(self.config.rootpath),
            "started": self.started,
            "summary": summary_counts(entries),
            "items": entries,
        }


def _shown(entry: dict[str, Any]) -> str:
    if entry["outcome"] == "skipped":
        reason = reports.first_line(entry.get("error"))
        return f"SKIPPED ({reason[:110]})"
    return entry["outcome"].upper()


def _version() -> str:
    try:
        return importlib.metadata.version("tenantguard")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def _outcome(report: pytest.TestReport, data: dict[str, Any]) -> str:
    if report.skipped:
        return "skipped"
    if report.passed:
        return "passed"
    return "breach" if report.when == "call" and data["findings"] else "error"


def _longrepr_text(report: pytest.TestReport) -> str:
    if isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])
    return str(report.longrepr)


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    """Rows as aligned text columns, under a header and a rule."""
    widths = [
        max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))
    ]

    def line(row) -> str:
        return "  ".join(
            str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)
        ).rstrip()

    return [
        line(header),
        line(tuple("-" * width for width in widths)),
        *map(line, rows),
    ]


def summary_counts(entries) -> dict[str, int]:
    counts = {"passed": 0, "breach": 0, "error": 0, "skipped": 0}
    for entry in entries:
        counts[entry["outcome"]] = counts.get(entry["outcome"], 0) + 1
    return counts


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
