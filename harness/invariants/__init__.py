"""Property-based attacks on the tenant rules themselves.

`tenantguard policy check [POLICY_DIR]` reads which rules decide access,
storage, limits, feature flags and key use from `POLICY_DIR/invariants.toml`,
generates decision inputs with hypothesis, evaluates them on a real OPA
server or on the embedded engine, and checks the isolation invariants
(`NAMES`). A violation is shrunk to a minimal input and printed as a Rego
test case and an `opa eval` command.

From Python:

    report = check("policies", engine="opa", examples=10_000, seed=0)
    print(report.text())

From a policy repository's pytest suite, beside `opa test`:

    @pytest.fixture(scope="module")
    def checker():
        with Checker("policies", engine="opa", examples=500) as checker:
            yield checker

    @pytest.mark.parametrize("invariant", NAMES)
    def test_tenant_invariant(checker, invariant):
        checker.run(invariant).assert_holds()
"""

from __future__ import annotations

import importlib

# Imported on first use, so that building the `tenantguard` parser does not
# import hypothesis and the engines.
_EXPORTS = {
    "NAMES": "harness.invariants.properties",
    "Checker": "harness.invariants.runner",
    "Outcome": "harness.invariants.runner",
    "Report": "harness.invariants.runner",
    "check": "harness.invariants.runner",
    "Counterexample": "harness.invariants.render",
    "DeclarationError": "harness.invariants.declaration",
    "main": "harness.invariants.cli",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'harness.invariants' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
