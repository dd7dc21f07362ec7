"""Running the invariants: one engine for the run, hypothesis for each
invariant, the shrunk counterexample kept.

hypothesis drives a plain inner function: it generates `examples` cases,
and on the first violation shrinks it and replays the smallest, which is the
last failure the inner function records.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import hypothesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis.errors import Flaky

from enforcement import Embedded, EngineError, OpaServer, PolicyEngine, UsageError
from harness.invariants import declaration as declarations
from harness.invariants import tenants
from harness.invariants.contract import Case, EngineDown, asker, problems
from harness.invariants.inputs import Inputs
from harness.invariants.properties import INVARIANTS, NAMES, Invariant
from harness.invariants.render import Counterexample, rego_file
from harness.services import OpaProcess

log = logging.getLogger("tenantguard.invariants")

ENGINES = ("opa", "embedded")


class _Violated(Exception):
    """Raised inside hypothesis so that it shrinks the case."""


@dataclass
class _Tally:
    inputs: int = 0
    decisions: int = 0
    failure: tuple | None = None
    engine_down: EngineDown | None = None


@dataclass(frozen=True)
class Outcome:
    """What one invariant came to on one engine."""

    invariant: str
    promise: str
    inputs: int
    decisions: int
    seconds: float
    counterexample: Counterexample | None = None
    skipped: str = ""

    @property
    def ok(self) -> bool:
        return self.counterexample is None

    def line(self) -> str:
        if self.skipped:
            return f"skip  {self.invariant:<26} {self.skipped}"
        verdict = "ok  " if self.ok else "FAIL"
        counts = f"{self.inputs:>6} inputs {self.decisions:>6} decisions"
        return f"{verdict}  {self.invariant:<26} {counts} {self.seconds:7.1f} s"

    def failure_text(self) -> str:
        if self.ok:
            return ""
        inputs = (
            "1 generated input"
            if self.inputs == 1
            else f"{self.inputs} generated inputs"
        )
        return (
            f"{self.invariant}: {self.promise}.\nViolated after {inputs}; "
            f"the smallest input found:\n{self.counterexample.explain()}"
        )

    def assert_holds(self) -> None:
        """For pytest: raise AssertionError with the counterexample."""
        if not self.ok:
            raise AssertionError(self.failure_text())


@dataclass(frozen=True)
class Report:
    policy_dir: Path
    engine: str
    seed: int
    examples: int
    outcomes: tuple[Outcome, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(outcome.ok for outcome in self.outcomes)

    @property
    def counterexamples(self) -> list[Counterexample]:
        return [o.counterexample for o in self.outcomes if o.counterexample]

    def summary(self) -> str:
        ran = [outcome for outcome in self.outcomes if not outcome.skipped]
        inputs = sum(outcome.inputs for outcome in ran)
        decisions = sum(outcome.decisions for outcome in ran)
        return (
            f"{len(ran)} invariants, {inputs} inputs, {decisions} decisions, "
            f"{len(self.counterexamples)} violated, {self.seconds:.1f} s on {self.engine}"
        )

    def text(self) -> str:
        lines = [outcome.line() for outcome in self.outcomes]
        for outcome in self.outcomes:
            if not outcome.ok:
                lines += ["", outcome.failure_text()]
        return "\n".join([*lines, "", self.summary()])

    def rego_tests(self) -> str:
        return rego_file(self.counterexamples)

    def assert_holds(self) -> None:
        if not self.ok:
            raise AssertionError(self.text())


class Checker:
    """One policy directory, one engine, any number of invariant runs.

    engine: "opa" (a real OPA server started for the checker), "embedded"
    (regopy), or a PolicyEngine already running; the checker writes its pool
    of tenants to the declared data path of that engine.
    """

    def __init__(
        self,
        policy_dir: Path,
        engine: str | PolicyEngine = "opa",
        *,
        examples: int = 1000,
        seed: int = 0,
        declaration: Path | None = None,
        opa_binary: Path | None = None,
    ) -> None:
        if examples < 1:
            raise UsageError(f"examples must be at least 1, got {examples!r}")
        if isinstance(engine, str) and engine not in ENGINES:
            raise UsageError(
                f"engine must be one of {', '.join(ENGINES)}, got {engine!r}"
            )
        self.policy_dir = Path(policy_dir)
        if not self.policy_dir.is_dir():
            raise UsageError(
                f"policy directory {str(self.policy_dir)!r} does not exist"
            )
        self.declaration = declarations.load(
            declaration or declarations.find(policy_dir)
        )
        self.world = tenants.build(self.declaration, self.policy_dir)
        self.inputs = Inputs(self.declaration, self.world)
        self.examples, self.seed = examples, seed
        self._choice, self._opa_binary = engine, opa_binary
        self._stack: contextlib.ExitStack | None = None
        self.engine: PolicyEngine | None = None

    def __enter__(self) -> Checker:
        self.open()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def engine_name(self) -> str:
        return self._choice if isinstance(self._choice, str) else repr(self._choice)

    def open(self) -> None:
        self._stack = contextlib.ExitStack()
        self.engine = self._stack.enter_context(self._open_engine())
        self._stack.enter_context(_quiet_engine_log())

    def close(self) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack, self.engine = None, None

    def run(self, name: str) -> Outcome:
        """Run one invariant with `examples` generated inputs."""
        invariant = invariant_named(name)
        if not invariant.applies(self.declaration.families):
            return Outcome(
                name, invariant.promise, 0, 0, 0.0, skipped="its rules are not declared"
            )
        if self.engine is None:
            raise UsageError("open the Checker first: `with Checker(...) as checker:`")
        started, tally = time.perf_counter(), _Tally()
        self._drive(invariant, tally)
        seconds = time.perf_counter() - started
        example = self._counterexample(invariant, tally) if tally.failure else None
        log.info("%s: %s inputs, %.1f s", name, tally.inputs, seconds)
        return Outcome(
            name, invariant.promise, tally.inputs, tally.decisions, seconds, example
        )

    def run_all(
        self,
        names: Iterable[str] | None = None,
        progress: Callable[[Outcome], None] | None = None,
        workers: int = 1,
    ) -> Report:
        """Run the invariants (all by default), in `workers` processes that
        share the engine when it is an OPA server (each builds its own when it
        is embedded). Each invariant runs with the same seed either way."""
        started, names = time.perf_counter(), list(names or NAMES)
        for name in names:
            invariant_named(name)
        if min(workers, len(names)) > 1 and self._can_share():
            outcomes = self._run_in_processes(names, progress, min(workers, len(names)))
        else:
            outcomes = [self._run_reporting(name, progress) for name in names]
        seconds = time.perf_counter() - started
        return Report(
            self.policy_dir,
            self.engine_name,
            self.seed,
            self.examples,
            tuple(outcomes),
            seconds,
        )

    def _run_reporting(self, name: str, progress) -> Outcome:
        outcome = self.run(name)
        if progress:
            progress(outcome)
        return outcome

    def _can_share(self) -> bool:
        return self._choice == "embedded" or isinstance(self.engine, OpaServer)

    def _run_in_processes(
        self, names: list[str], progress, workers: int
    ) -> list[Outcome]:
        url = self.engine.url if isinstance(self.engine, OpaServer) else None
        jobs = [
            _Job(
                self.policy_dir,
                url,
                self.examples,
                self.seed,
                self.declaration.path,
                name,
            )
            for name in names
        ]
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = {pool.submit(_run_job, job): job.name for job in jobs}
            for future in as_completed(futures):
                if progress:
                    progress(future.result())
        return [
            future.result()
            for future in sorted(futures, key=lambda f: names.index(futures[f]))
        ]

    def _drive(self, invariant: Invariant, tally: _Tally) -> None:
        test = given(case=invariant.strategy(self.inputs))(self._attempt_with(tally))
        test = hypothesis.seed(self.seed)(_settings(self.examples)(test))
        with contextlib.suppress(_Violated, Flaky):
            test()
        if tally.engine_down is not None:
            raise EngineError(
                f"the policy engine failed during {invariant.name}: {tally.engine_down}"
            )

    def _attempt_with(self, tally: _Tally) -> Callable[[Case], None]:
        def attempt(case: Case) -> None:
            if tally.engine_down is not None:
                raise _Violated
            if tally.failure is None:
                tally.inputs += 1
            entry_point = self.declaration.entry_point(case.family)
            try:
                decision, found = problems(case, asker(self.engine, entry_point, tally))
            except EngineDown as exc:
                tally.engine_down = exc
                raise _Violated from exc
            if found:
                tally.failure = (case, decision, tuple(found))
                raise _Violated

        return attempt

    def _counterexample(self, invariant: Invariant, tally: _Tally) -> Counterexample:
        case, decision, found = tally.failure
        others = [getattr(expect, "input", None) for expect in case.expect]
        return Counterexample(
            invariant.name, invariant.promise, self.declaration.entry_point(case.family),
            case, decision, found, self.world.slice(case.input, *others),
            self.declaration.tenants_data, self.policy_dir, self.seed,
        )  # fmt: skip

    @contextlib.contextmanager
    def _open_engine(self) -> Iterator[PolicyEngine]:
        data_path = self.declaration.tenants_data.replace(".", "/")
        if not isinstance(self._choice, str):
            self._choice.put_data(data_path, self.world.data())
            yield self._choice
        elif self._choice == "embedded":
            entry_points = tuple(
                map(self.declaration.entry_point, self.declaration.families)
            )
            yield Embedded(
                self.policy_dir,
                _nested(data_path, self.world.data()),
                entry_points=entry_points,
            )
        else:
            with (
                OpaProcess(self.policy_dir, binary=self._opa_binary) as process,
                OpaServer(process.url) as server,
            ):
                server.put_data(data_path, self.world.data())
                yield server


@dataclass(frozen=True)
class _Job:
    """One invariant for a worker process: the same engine, by URL (OPA) or
    built again (embedded, when url is None)."""

    policy_dir: Path
    url: str | None
    examples: int
    seed: int
    declaration: Path
    name: str


def _run_job(job: _Job) -> Outcome:
    with contextlib.ExitStack() as stack:
        engine = stack.enter_context(OpaServer(job.url)) if job.url else "embedded"
        checker = Checker(job.policy_dir, engine, examples=job.examples,
                          seed=job.seed, declaration=job.declaration)  # fmt: skip
        with checker:
            return checker.run(job.name)


def check(
    policy_dir: Path,
    engine: str | PolicyEngine = "opa",
    examples: int = 1000,
    seed: int = 0,
    *,
    invariants: Iterable[str] | None = None,
    declaration: Path | None = None,
    opa_binary: Path | None = None,
    progress: Callable[[Outcome], None] | None = None,
    workers: int = 1,
) -> Report:
    """Attack the policies in `policy_dir` with `examples` generated inputs
    per invariant; the report holds a shrunk counterexample for each one broken."""
    checker = Checker(policy_dir, engine, examples=examples, seed=seed,
                      declaration=declaration, opa_binary=opa_binary)  # fmt: skip
    with checker:
        return checker.run_all(invariants, progress, workers)


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        verbosity=Verbosity.quiet,
        report_multiple_bugs=False,
        print_blob=False,
    )


def invariant_named(name: str) -> Invariant:
    for invariant in INVARIANTS:
        if invariant.name == name:
            return invariant
    raise UsageError(
        f"no invariant named {name!r}; the invariants are {', '.join(NAMES)}"
    )


def _nested(path: str, value) -> dict:
    for key in reversed(path.split("/")):
        value = {key: value}
    return value


@contextlib.contextmanager
def _quiet_engine_log() -> Iterator[None]:
    # Broken policies make engines warn on every malformed decision; the
    # report says it once, with the input.
    logger = logging.getLogger("tenantguard.enforcement")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
