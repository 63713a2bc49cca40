"""A bounded YAML reader for plans: safe tags only, no duplicate keys, no alias bombs.

PyYAML builds a node graph first and Python values second. The graph is checked before any
value is built: its depth, its size *with aliases expanded* (memoised per node, so a bomb of
a billion values is measured in a few hundred steps and refused), and every mapping for a key
written twice (YAML says keys are unique; PyYAML would silently keep the last one).
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from sgr_kernel.safety import MAX_DEPTH, MAX_NODES, ShapeError

__all__ = ["DuplicateKeyError", "load_yaml"]


class DuplicateKeyError(ValueError):
    """A mapping names the same key twice."""


class _Loader(yaml.SafeLoader):
    """SafeLoader whose composer refuses nesting deeper than MAX_DEPTH as it reads."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH + 1:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise ShapeError(f"nested deeper than {MAX_DEPTH} levels (line {mark.line + 1})")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _measure(root: Node) -> None:
    """Expanded size of the graph (bounded), and duplicate keys; iterative and memoised."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        if isinstance(node, ScalarNode):
            sizes[id(node)] = 1
            continue
        children: list[Node] = []
        if isinstance(node, MappingNode):
            keys: set[tuple[str, str]] = set()
            for k, v in node.value:
                if isinstance(k, ScalarNode) and k.tag != "tag:yaml.org,2002:merge":
                    key = (k.tag, k.value)
                    if key in keys:
                        line = k.start_mark.line + 1
                        raise DuplicateKeyError(
                            f"key {k.value[:60]!r} is written twice in one mapping (line {line})"
                        )
                    keys.add(key)
                children += [k, v]
        elif isinstance(node, SequenceNode):
            children = list(node.value)
        if done:
            total = 1 + sum(sizes.get(id(c), 1) for c in children)
            if total > MAX_NODES:
                raise ShapeError(
                    f"more than {MAX_NODES} values once aliases are expanded; "
                    "write the plan without repeated anchors/aliases"
                )
            sizes[id(node)] = total
        else:
            if id(node) in open_:
                raise ShapeError("an alias refers to a mapping or list that contains it")
            open_.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)


def load_yaml(text: str) -> Any:
    """Parse one YAML document with the bounds above.

    Raises:
        yaml.YAMLError: not valid YAML.
        ShapeError: too deep, too large once expanded.
        DuplicateKeyError: a key written twice.
        ValueError: a value PyYAML cannot build (e.g. an integer past the digit limit).
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _measure(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()
