"""Broken copies of the shipped policies, made at test time from
tests/invariants/broken/mutations.toml: a full copy of policies/ with one
mistake applied."""

from __future__ import annotations

import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

MUTATIONS_FILE = Path(__file__).resolve().parent / "broken" / "mutations.toml"


@dataclass(frozen=True)
class Mutation:
    name: str
    mistake: str
    file: str
    caught_by: tuple[str, ...]
    edits: tuple[tuple[str, str], ...]

    def apply(self, policy_dir: Path, target: Path) -> Path:
        """Copy `policy_dir` to `target` and make the mistake there; raise
        AssertionError if an edit does not match exactly once."""
        shutil.copytree(policy_dir, target)
        path = target / self.file
        text = path.read_text(encoding="utf-8")
        for find, replace in self.edits:
            found = text.count(find)
            assert found == 1, (
                f"{self.name}: {find!r} occurs {found} times in {self.file}"
            )
            text = text.replace(find, replace)
        path.write_text(text, encoding="utf-8")
        return target


def mutations() -> list[Mutation]:
    document = tomllib.loads(MUTATIONS_FILE.read_text(encoding="utf-8"))
    return [
        Mutation(
            entry["name"],
            entry["mistake"],
            entry["file"],
            tuple(entry["caught_by"]),
            tuple((edit["find"], edit["replace"]) for edit in entry["edit"]),
        )
        for entry in document["mutation"]
    ]
