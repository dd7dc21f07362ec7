"""One item (a scenario variant) against a target: tenants, steps, checks.

    setup()   fresh victim and attacker tenants, tokens minted, setup steps run
              (as the victim unless a step says otherwise); a failure here is a
              TargetError: the target misbehaved, nothing was proven
    attack()  attack steps (as the attacker unless a step says otherwise), each
              with its checks; returns the findings of the first step that has any

Every request and response is kept in `exchanges` for the report.
"""

from __future__ import annotations

import dataclasses
import random
import re
import string
import threading
import time
from collections.abc import Callable
from typing import Any

from harness import checks, forge, template
from harness.checks import Finding
from harness.errors import ScenarioError, TargetError
from harness.http import Exchange, HttpRequest, curl, describe_response
from harness.scenario import BODY_KEYS, SIGNATURES, Scenario, Step, Variant
from harness.target import METHODS, NotOffered, Target, Tenant


def _is_pairs(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(pair, list) and len(pair) >= 2 for pair in value
    )


_REQUEST_SHAPES = {
    "headers": (lambda value: isinstance(value, dict), "a mapping"),
    "form": (lambda value: isinstance(value, dict), "a mapping"),
    "archive": (
        lambda value: (
            isinstance(value, dict) and isinstance(value.get("members"), list)
        ),
        "a mapping with members",
    ),
    "query": (
        lambda value: isinstance(value, dict) or _is_pairs(value),
        "a mapping or pairs",
    ),
}
_AUTH_SHAPES = {
    "claims": (lambda value: isinstance(value, dict), "a mapping"),
    "header": (lambda value: isinstance(value, dict), "a mapping"),
    "drop": (lambda value: isinstance(value, list), "a list"),
    "signature": (lambda value: value in SIGNATURES, "one of " + ", ".join(SIGNATURES)),
}


class ItemSkipped(Exception):
    """The item needs something the target profile does not provide."""


def item_rng(seed: int | str | None, scenario: Scenario, variant: Variant):
    """The item's random generator: seeded from the run's seed and the item's
    name (so an item draws the same values whichever worker runs it, and
    alone or among others), or the system's when there is no seed."""
    if seed is None:
        return template.SYSTEM_RANDOM
    return random.Random(f"{seed}:{scenario.id}[{variant.label}]")


class ItemRun:
    def __init__(
        self,
        scenario: Scenario,
        variant: Variant,
        target: Target,
        *,
        now: Callable[[], float] = time.time,
        seed: int | str | None = None,
    ) -> None:
        self.scenario, self.variant, self.target = scenario, variant, target
        values = {name: template.Template(v) for name, v in variant.values.items()}
        self.rng = item_rng(seed, scenario, variant)
        self.context = template.Context(
            values, now=now, randomness=template.Randomness(rng=self.rng)
        )
        self.tenants: dict[str, Tenant] = {}
        self.exchanges: list[Exchange] = []
        self.findings: list[Finding] = []
        self.victim_saved: set[str] = set()
        self._forged: dict[str, str] = {}
        self._role_tokens: dict[tuple[str, tuple[str, ...]], str] = {}

    # The two phases -----------------------------------------------------------

    def setup(self) -> None:
        self._check_requires()
        for actor in ("victim", "attacker"):
            self.tenants[actor] = self.target.provision(actor, self.exchanges.append)
        self.context.values.update(
            victim=template.Facts(self.tenants["victim"].public()),
            attacker=template.Facts(self.tenants["attacker"].public()),
            target=template.Facts(self._target_facts()),
        )
        self._draw_let()
        for step in self.scenario.setup:
            findings = self.run_step(step)
            if findings and self._attacker_reached_victim(step, findings):
                self.findings = findings
                return
            if findings:
                raise TargetError(self._setup_failure(step, findings))

    def attack(self) -> list[Finding]:
        if self.findings:
            return self.findings
        for step in self.scenario.attack:
            findings = self.run_step(step)
            if findings:
                self.findings = findings
                self._point_at_attacker(step, findings)
                return findings
        return []

    def _check_requires(self) -> None:
        """Skip, before any tenant is made, an item the target cannot run."""
        for index, entry in enumerate(self.scenario.requires):
            try:
                needed = str(template.expand(entry, self.context))
            except template.TemplateError as exc:
                line = self.scenario.lines.get("requires")
                raise ScenarioError(
                    self.scenario.path,
                    line,
                    f"requires[{index}]: {exc.problem}",
                    exc.fix,
                ) from None
            if not self.target.offers(needed):
                profile = self.target.profile
                raise ItemSkipped(
                    f"does not apply: requires {needed!r}, which the profile "
                    f"{profile.name!r} does not offer (scenario line "
                    f"{self.scenario.lines.get('requires')}; the profile offers "
                    f"{profile.describe_offer()})"
                )

    def _draw_let(self) -> None:
        """`let` values: drawn once per item, then fixed for every step."""
        self.context.actor, self.context.where = "victim", "let"
        for name, value in self.scenario.let.items():
            try:
                self.context.values[name] = template.expand(value, self.context)
            except template.Unavailable as exc:
                raise ItemSkipped(f"let {name}: {exc.problem}") from None
            except template.TemplateError as exc:
                line = self.scenario.lines.get("let")
                raise ScenarioError(
                    self.scenario.path, line, f"let {name}: {exc.problem}", exc.fix
                ) from None

    def _point_at_attacker(self, step: Step, findings: list[Finding]) -> None:
        """A victim's check that fails shows the attacker's request before it."""
        earlier = [
            e for e in self.exchanges if e.kind == "attack" and e.actor == "attacker"
        ]
        if step.actor != "victim" or not earlier:
            return
        last = earlier[-1]
        for finding in findings:
            finding.evidence.append(
                f"after the attacker's request ({last.label}), answered "
                f"{last.response.status}: {curl(last.request, self.secrets())}"
            )

    def secrets(self) -> dict[str, str]:
        """Secret values and the placeholders shown instead of them."""
        shown = self.target.secrets()
        for actor, tenant in self.tenants.items():
            shown[tenant.token] = f"${actor.upper()}_TOKEN"
        for (actor, roles), token in self._role_tokens.items():
            shown[token] = f"${actor.upper()}_{'_'.join(roles).upper()}_TOKEN"
        return shown

    def _target_facts(self) -> dict[str, Any]:
        facts: dict[str, Any] = {"base_url": self.target.base_url}
        jwt = self.target.profile.section("jwt")
        key = jwt and self.target.expand(
            ("jwt", "key"), jwt["key"], self.target.context()
        )
        if key:  # an empty key: the profile does not know the target's secret
            facts["jwt_key"], facts["jwt_alg"] = key, jwt.get("alg", "HS256")
        return facts

    # One step -----------------------------------------------------------------

    def run_step(self, step: Step) -> list[Finding]:
        context = self._enter(step)
        if step.burst:
            return self._run_burst(step, context)
        spec, extras = self._spec(step, context)
        headers = self._auth_headers(step, context)
        exchange = self._exchange(step, self._build(step, spec, headers))

        findings = self._check(step, exchange, context, headers)
        if not findings:
            self._save(step, exchange, extras)
        return findings

    def _enter(self, step: Step) -> template.Context:
        self.context.actor, self.context.where = step.actor, step.label
        self.context.randomness = template.Randomness(rng=self.rng)
        return self.context

    def _run_burst(self, step: Step, context: template.Context) -> list[Finding]:
        """Send every request of the burst at once: each on its own thread,
        all released together by a barrier, then check every answer."""
        requests = []
        headers = self._auth_headers(step, context)
        for raw in step.burst:
            request = {key: value for key, value in raw.items() if key != "repeat"}
            for _ in range(int(raw.get("repeat", 1))):
                spec = self._request_spec(step, context, request)
                requests.append(self._build(step, spec, headers))
        responses = release_together(self.target.send, requests)
        exchanges = []
        for index, (request, response) in enumerate(
            zip(requests, responses, strict=True)
        ):
            label = f"{step.label}, request {index + 1} of {len(requests)}"
            exchange = Exchange(step.section, label, step.actor, request, response)
            self.exchanges.append(exchange)
            exchanges.append(exchange)
        return self._check_burst(step, exchanges, context)

    def _check_burst(
        self, step: Step, exchanges: list[Exchange], context: template.Context
    ) -> list[Finding]:
        for exchange in exchanges:
            findings = self._check(step, exchange, context, {})
            if findings:
                return findings
        if step.expect.succeeded is None:
            return []
        bounds = self._expand(step, "expect", step.expect.succeeded, context)
        return checks.check_succeeded(step, exchanges, bounds)

    def _expand(
        self, step: Step, key: str, value: Any, context: template.Context
    ) -> Any:
        try:
            return template.expand(value, context)
        except template.Unavailable as exc:
            raise ItemSkipped(f"{step.label}: {exc.problem}") from None
        except template.TemplateError as exc:
            raise self._error(step, key, exc.problem, exc.fix) from None

    def _error(
        self, step: Step, key: str, problem: str, fix: str, line: int | None = None
    ) -> ScenarioError:
        line = line or step.lines.get(key) or step.line
        return ScenarioError(self.scenario.path, line, f"{step.label}: {problem}", fix)

    def _spec(self, step: Step, context: template.Context) -> tuple[dict, dict]:
        if step.create is not None:
            return self._create_spec(step, context)
        return self._request_spec(step, context), {}

    def _request_spec(
        self, step: Step, context: template.Context, request: dict | None = None
    ) -> dict:
        raw = self._present(step.request if request is None else request)
        spec = self._expand(step, "request", raw, context)
        self._check_shapes(step, "request", spec, _REQUEST_SHAPES)
        bodies = [key for key in BODY_KEYS if key in spec]
        if len(bodies) > 1:
            raise self._error(
                step,
                "request",
                f"this variant sends both {bodies[0]!r} and {bodies[1]!r}",
                "define at most one of them in each matrix value or case",
            )
        if "endpoint" in spec:
            spec = self._resolve_endpoint(step, spec, context)
        if "rewrite" in spec:
            spec["path"] = self._rewrite(step, spec.pop("rewrite"), spec["path"])
        if "method" not in spec:
            raise self._error(
                step,
                "request",
                f"the endpoint {spec.get('endpoint')!r} gives no method",
                "add `method:` to the request, or to the endpoint in the profile",
            )
        if str(spec["method"]).upper() not in METHODS:
            raise self._error(
                step,
                "request",
                f"method {spec['method']!r} is not supported",
                f"use one of: {', '.join(METHODS)}",
            )
        return spec

    def _resolve_endpoint(
        self, step: Step, spec: dict, context: template.Context
    ) -> dict:
        scoped = dataclasses.replace(
            context,
            values=context.values
            | {"id": spec.get("id"), "parent": spec.get("parent")},
        )
        try:
            return self.target.endpoint(spec, scoped)
        except NotOffered as exc:
            raise ItemSkipped(
                f"{step.label}: does not apply to the target: {exc}"
            ) from None

    def _rewrite(self, step: Step, rewrite: Any, path: str) -> str:
        """The path with `rewrite: [pattern, replacement]` applied; a rewrite
        that changes nothing means the target's paths lack what it replaces."""
        if not (isinstance(rewrite, list) and len(rewrite) == 2):
            raise self._error(
                step,
                "request",
                f"rewrite became {rewrite!r}, not [pattern, replacement]",
                "give rewrite a regular expression and its replacement",
            )
        pattern, replacement = (str(part) for part in rewrite)
        try:
            rewritten = re.sub(pattern, replacement, path, count=1)
        except re.error as exc:
            raise self._error(
                step,
                "request",
                f"rewrite pattern {pattern!r} is not a regular expression: {exc}",
                "write a Python regular expression such as '^/v1/'",
            ) from None
        if rewritten == path:
            raise ItemSkipped(
                f"{step.label}: does not apply to the target: rewriting its path "
                f"{path!r} with {pattern!r} -> {replacement!r} changes nothing"
            )
        return rewritten

    def _present(self, request: dict) -> dict:
        """The request (or auth) without fields that are exactly `{{name}}` for
        a case variable other cases define but this variant does not."""
        elsewhere = {name for v in self.scenario.variants for name in v.values}
        absent = elsewhere - set(self.variant.values)
        return {
            key: value
            for key, value in request.items()
            if not (template.is_whole(value) and template.names_in(value) <= absent)
        }

    def _check_shapes(self, step: Step, key: str, values: dict, shapes: dict) -> None:
        """Values filled in from a matrix or case have the type the key needs."""
        for name, (accepts, wanted) in shapes.items():
            if name in values and not accepts(values[name]):
                raise self._error(
                    step,
                    key,
                    f"{key}.{name} became {values[name]!r} once its template was "
                    f"filled in, which is not {wanted}",
                    f"give {key}.{name} {wanted} in every matrix value or case",
                )

    def _create_spec(self, step: Step, context: template.Context) -> tuple[dict, dict]:
        name = str(self._expand(step, "create", step.create, context))
        resource = self.target.profile.resource(name)
        if resource is None or "create" not in resource:
            profile = self.target.profile
            raise ItemSkipped(
                f"{step.label}: does not apply to the target: the profile "
                f"{profile.name!r} has no create recipe for {name!r} "
                f"({profile.describe_offer()})"
            )
        if step.parent is not None:
            parent = self._expand(step, "parent", step.parent, context)
        elif resource.get("parent"):
            parent = self._create_parent(step, resource["parent"], context)
        else:
            parent = None
        scoped = dataclasses.replace(
            context, values=context.values | {"parent": parent}
        )
        at = ("resources", name, "create", "request")
        spec = self.target.expand(at, resource["create"]["request"], scoped)
        return spec, {"resource": name, "parent": parent}

    def _create_parent(self, step: Step, name: str, context: template.Context) -> Any:
        parent_step = dataclasses.replace(
            step,
            create=name,
            parent=None,
            save={},
            expect=dataclasses.replace(step.expect, status=("2xx",)),
        )
        spec, extras = self._create_spec(parent_step, context)
        headers = self._auth_headers(step, context)
        exchange = self._exchange(
            parent_step,
            self._build(step, spec, headers),
            label=f"{step.label}: create its parent {name}",
        )
        if not 200 <= exchange.response.status < 300:
            raise TargetError(self._setup_failure(parent_step, [], exchange))
        return self._created_id(name, exchange)

    def _created_id(self, name: str, exchange: Exchange) -> Any:
        recipe = self.target.profile.resource(name)["create"]
        return self.target.extract(
            exchange.response, recipe["id"], ("resources", name, "create", "id")
        )

    def _auth_headers(self, step: Step, context: template.Context) -> dict[str, str]:
        if step.actor == "operator":
            return self._not_offered(step, self.target.operator_headers)
        auth = self._expand(
            step, "auth", self._present(step.auth or {"token": "own"}), context
        )
        self._check_shapes(step, "auth", auth, _AUTH_SHAPES)
        kind = auth["token"]
        if kind == "none":
            return {}
        if kind == "raw":
            return {self.target.profile.section("auth")["header"]: str(auth["value"])}
        token = self._token(step, auth.get("roles"))
        if kind == "forged":
            token = self._forge(step, token, auth)
        return self.target.auth_headers(token)

    def _token(self, step: Step, roles: Any) -> str:
        """The actor's token, or one minted once per item with only `roles`."""
        tenant = self.tenants[step.actor]
        if roles is None:
            return tenant.token
        wanted = tuple(str(role) for role in roles)
        key = (step.actor, wanted)
        if key not in self._role_tokens:
            self._role_tokens[key] = self._not_offered(
                step,
                lambda: self.target.mint(tenant, list(wanted), self.exchanges.append),
            )
        return self._role_tokens[key]

    def _not_offered(self, step: Step, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except NotOffered as exc:
            raise ItemSkipped(
                f"{step.label}: does not apply to the target: {exc}"
            ) from None

    def _forge(self, step: Step, token: str, auth: dict) -> str:
        forgery = forge.Forgery(
            alg=str(auth.get("alg", "HS256")),
            key=None if auth.get("key") is None else str(auth["key"]),
            claims=auth.get("claims") or {},
            drop=tuple(auth.get("drop") or ()),
            header=auth.get("header") or {},
            signature=auth.get("signature"),
        )
        try:
            forged = forge.forge(token, forgery)
        except forge.ForgeError as exc:
            raise self._error(
                step, "auth", str(exc), "change the step's `auth:`"
            ) from None
        self._forged[forged] = forge.describe(forged)
        return forged

    def _build(self, step: Step, spec: dict, headers: dict[str, str]) -> HttpRequest:
        try:
            return self.target.build(spec, headers)
        except ValueError as exc:  # an archive its format cannot hold
            raise self._error(
                step, "request", str(exc), "change the step's `archive:`"
            ) from None

    def _exchange(
        self,
        step: Step,
        request: HttpRequest,
        *,
        kind: str | None = None,
        label: str | None = None,
    ) -> Exchange:
        response = self.target.send(request)
        exchange = Exchange(
            kind or step.section, label or step.label, step.actor, request, response
        )
        forged = self._forged_in(request)
        if forged:
            exchange.notes.append(f"forged token: {forged}")
        self.exchanges.append(exchange)
        return exchange

    def _forged_in(self, request: HttpRequest) -> str | None:
        header = request.header(self.target.profile.section("auth")["header"]) or ""
        return next(
            (text for token, text in self._forged.items() if token in header), None
        )

    # Checks -------------------------------------------------------------------

    def _check(
        self, step: Step, exchange: Exchange, context: template.Context, headers: dict
    ) -> list[Finding]:
        expect = step.expect
        findings = checks.check_status(step, exchange) + checks.check_no_2xx(
            step, exchange
        )
        victim = self.tenants["victim"]
        findings += checks.check_no_canary(
            step, exchange, context.owned_by("victim"), victim.id
        )
        if expect.absent:
            findings += checks.check_absent(
                step,
                exchange,
                self._expand(step, "expect", list(expect.absent), context),
            )
        if expect.fields:
            findings += self._check_fields(step, exchange, context)
        if expect.close_to:
            findings += self._check_close_to(step, exchange, context)
        if expect.indistinguishable:
            findings += self._check_missing(step, exchange, context, headers)
        if expect.audit:
            findings += self._check_audit(step, exchange, context)
        return findings

    def _check_fields(
        self, step: Step, exchange: Exchange, context: template.Context
    ) -> list[Finding]:
        wanted = self._expand(step, "expect", step.expect.fields, context)
        actual = _response_values(exchange, wanted)
        return checks.check_fields(step, exchange, actual, wanted)

    def _check_close_to(
        self, step: Step, exchange: Exchange, context: template.Context
    ) -> list[Finding]:
        wanted = self._expand(step, "expect", step.expect.close_to, context)
        actual = _response_values(exchange, wanted)
        return checks.check_close_to(step, exchange, actual, wanted)

    def _check_missing(
        self, step: Step, exchange: Exchange, context: template.Context, headers: dict
    ) -> list[Finding]:
        owned = self._referenced(step.request) & self.victim_saved
        if step.request is None or not owned:
            raise self._error(
                step,
                "expect",
                "indistinguishable_from_missing needs a request that uses a value "
                "saved from a victim step (the control swaps it for a missing one)",
                "use a saved victim value in the request, e.g. `id: '{{theirs}}'`, "
                "or drop the check from this step",
                step.expect.lines.get("indistinguishable_from_missing"),
            )
        twins = {
            name: twin(self.context.values[name], self.rng) for name in sorted(owned)
        }
        replay = dataclasses.replace(
            context, overrides=twins, randomness=context.randomness.replay()
        )
        spec = self._request_spec(step, replay)
        control = self._exchange(
            step,
            self._build(step, spec, headers),
            kind="control",
            label=f"{step.label}: control, the same request for a missing ID",
        )
        swapped = {str(self.context.values[name]): str(twins[name]) for name in owned}
        volatile = self.target.profile.volatile_headers
        differences = checks.compare_to_missing(exchange, control, volatile, swapped)
        return checks.check_indistinguishable(step, exchange, control, differences)

    def _referenced(self, value: Any, seen: frozenset[str] = frozenset()) -> set[str]:
        names = template.names_in(value) - seen
        for name in list(names):
            held = self.context.values.get(name)
            if isinstance(held, template.Template):
                names |= self._referenced(held.value, seen | names)
        return names

    def _check_audit(
        self, step: Step, exchange: Exchange, context: template.Context
    ) -> list[Finding]:
        audit = self.target.profile.section("audit")
        if audit is None:
            exchange.notes.append(
                "audit not checked: the target profile exposes no audit log"
            )
            return []
        wanted = self._expand(step, "expect", step.expect.audit, context)
        request_id = exchange.response.header(audit["request_id_header"])
        records: list = []
        if request_id is not None:
            found = self.target.read_audit(
                request_id,
                self.exchanges.append,
                lambda got: checks.audit_matches(got, wanted),
            )
            records = found or []
        return checks.check_audit(step, exchange, wanted, request_id, records)

    def _save(self, step: Step, exchange: Exchange, extras: dict) -> None:
        if step.create is not None:
            extras["id"] = self._created_id(extras["resource"], exchange)
        view = template.Context(exchange.response.view() | extras)
        for name, expression in step.save.items():
            try:
                self.context.values[name] = view.lookup(expression)
            except template.TemplateError as exc:
                raise TargetError(
                    f"{self.scenario.path}:{step.lines.get('save', step.line)}: "
                    f"{step.label}: cannot save {name} = {expression} ({exc.problem})\n"
                    f"{describe_response(exchange.response, self.secrets())}"
                ) from None
            if step.actor == "victim":
                self.victim_saved.add(name)
            else:
                self.victim_saved.discard(name)

    def _attacker_reached_victim(self, step: Step, findings: list[Finding]) -> bool:
        """A failed setup step is a finding, not a misbehaving target, when the
        attacker played it and either got victim data back or sent a victim
        value: an attack, however early it comes, that the target got wrong."""
        if step.actor != "attacker":
            return False
        if any(finding.check == "no_canary" for finding in findings):
            return True
        sent = self._referenced([step.request, list(step.burst), step.parent])
        return bool(sent & self.victim_saved)

    def _setup_failure(
        self, step: Step, findings: list[Finding], exchange: Exchange | None = None
    ) -> str:
        exchange = exchange or findings[0].exchange
        reasons = "; ".join(finding.summary for finding in findings) or "it failed"
        return (
            f"{self.scenario.path}:{step.line}: {step.label} did not succeed, so the "
            f"attack could not be set up ({reasons}). This is not a finding: the "
            f"target did not behave as its profile says.\n"
            f"  {curl(exchange.request, self.secrets())}\n"
            + _indent(describe_response(exchange.response, self.secrets()))
        )


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def twin(value: Any, rng: random.Random = template.SYSTEM_RANDOM) -> Any:
    """A value shaped like `value` (same prefix, length, character classes and
    extension) that names nothing: the 'missing' ID of a control request."""
    if isinstance(value, int) and not isinstance(value, bool):
        digits = len(str(abs(value)))
        return int(rng.choice("123456789") + _random(rng, string.digits, digits - 1))
    text = str(value)
    head, _, tail = text.partition("_") if "_" in text[:8] else ("", "", text)
    stem, dot, extension = tail.rpartition(".") if "." in tail else (tail, "", "")
    alphabets = _alphabets(stem)
    alike = "".join(_alike(rng, char, alphabets) for char in stem)
    result = (f"{head}_" if head else "") + alike + dot + extension
    return result if result != text else result + "0"


def _alphabets(stem: str) -> tuple[str, ...]:
    """Hex stays hex (an ID pattern may accept nothing else); otherwise each
    character keeps its class."""
    if stem and all(char in string.hexdigits for char in stem):
        lower = stem.lower() == stem
        return (string.digits, "abcdef" if lower else "ABCDEF")
    return (string.digits, string.ascii_lowercase, string.ascii_uppercase)


def _alike(rng: random.Random, char: str, alphabets: tuple[str, ...]) -> str:
    for alphabet in alphabets:
        if char in alphabet:
            return rng.choice(alphabet)
    return char


def _random(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def release_together(send: Callable[[Any], Any], requests: list) -> list:
    """Send each request on its own thread, all released at one instant by a
    barrier (the last-byte race of a burst); the answers, in request order."""
    barrier = threading.Barrier(len(requests))
    answers: list[Any] = [None] * len(requests)

    def one(index: int) -> None:
        barrier.wait()
        try:
            answers[index] = send(requests[index])
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            answers[index] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    return answers


def _response_values(exchange: Exchange, paths) -> dict[str, Any]:
    """The value at each path of the response, or "(absent)"."""
    lookup = template.Context(exchange.response.view())
    actual = {}
    for path in paths:
        try:
            actual[path] = lookup.lookup(path)
        except template.TemplateError:
            actual[path] = "(absent)"
    return actual
