"""YAML documents that remember where each value was written.

PyYAML's composer gives every node a start mark; the values are built from the
same nodes, so each value's path (a tuple of keys and indexes) maps to the line
it starts on. Scenario and profile errors use it to name the line to fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ScenarioError

_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass
class Document:
    path: Path
    data: Any
    lines: dict[tuple, int] = field(default_factory=dict)

    def line(self, at: tuple) -> int | None:
        """The line of the value at `at`, or of its nearest written ancestor."""
        for end in range(len(at), -1, -1):
            if at[:end] in self.lines:
                return self.lines[at[:end]]
        return None

    def error(self, at: tuple, problem: str, fix: str) -> ScenarioError:
        return ScenarioError(self.path, self.line(at), problem, fix)


def load(path: Path, text: str | None = None) -> Document:
    """Parse one YAML document from `path`; syntax errors name their line."""
    path = Path(path)
    text = path.read_text(encoding="utf-8") if text is None else text
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(path, exc) from None
    finally:
        loader.dispose()

    document = Document(path, data)
    if node is None:
        raise ScenarioError(path, 1, "the file is empty", "write a YAML mapping in it")
    _record(document, node, data, ())
    return document


def _syntax_error(path: Path, exc: yaml.MarkedYAMLError) -> ScenarioError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else None
    problem = " ".join(part for part in (exc.context, exc.problem) if part)
    fix = (
        "correct the YAML syntax there (indentation, a missing ':', an "
        "unclosed quote or bracket, or a tab used for indentation)"
    )
    if "single document" in problem:
        fix = "keep one document per file: move what follows '---' to its own file"
    return ScenarioError(path, line, f"invalid YAML: {problem}", fix)


def _record(document: Document, node: yaml.Node, value: Any, at: tuple) -> None:
    document.lines[at] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode) and isinstance(value, dict):
        _record_mapping(document, node, value, at)
    elif isinstance(node, yaml.SequenceNode) and isinstance(value, list):
        for index, (item_node, item) in enumerate(zip(node.value, value, strict=True)):
            _record(document, item_node, item, (*at, index))


def _construct_key(node: yaml.Node) -> Any:
    key = yaml.constructor.SafeConstructor().construct_object(node, deep=True)
    return key if isinstance(key, str | int | float | bool | None) else repr(key)


def _record_mapping(document: Document, node: yaml.MappingNode, value, at) -> None:
    seen: dict[Any, int] = {}
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE_TAG:
            continue
        key = _construct_key(key_node)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise ScenarioError(
                document.path,
                line,
                f"duplicate key {key!r} (first written on line {seen[key]})",
                "keep one of the two entries; YAML would silently drop the first",
            )
        seen[key] = line
        if key in value:
            _record(document, value_node, value[key], (*at, key))
            document.lines[(*at, key)] = line
