"""Fixtures shared by the harness's own tests: made-up result documents."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from html.parser import HTMLParser
from typing import Any

import pytest

from conformance.core import results
from conformance.core.catalogue import Catalogue, Level, Requirement

DEMO_CATALOGUE = Catalogue(
    suite="demo",
    spec_name="Demo Specification",
    spec_version="v1.0.0",
    base_url="https://example.org/demo-spec/blob/v1.0.0",
    requirements=(
        Requirement("pull-1", Level.MUST, "Pulling", "a blob can be fetched", "spec.md#pull"),
        Requirement("pull-2", Level.MUST, "Pulling", "a missing blob answers 404", "spec.md#p2"),
        Requirement("push-1", Level.SHOULD, "Pushing", "uploads may be chunked", "spec.md#push"),
        Requirement("push-2", Level.MAY, "Pushing", "uploads may be mounted", "spec.md#mount"),
        Requirement("gc-1", Level.MUST, "Deleting", "deleted blobs disappear", "spec.md#gc"),
    ),
    package="demo_suite",
)
"""A small catalogue with every level, used to build documents without running pytest."""


DocumentFactory = Callable[..., dict[str, Any]]


@pytest.fixture
def make_document() -> DocumentFactory:
    """Build a valid ``results.json`` document from ``(nodeid, requirement, outcome)`` rows.

    Keyword arguments override the record fields of every row (``message=...``) or the
    document's ``target``, ``level`` and ``catalogue``.
    """

    def build(
        rows: Sequence[tuple[str, str, str]],
        *,
        target: dict[str, Any] | None = None,
        level: Level = Level.MUST,
        catalogue: Catalogue = DEMO_CATALOGUE,
        extra: dict[str, dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        records = []
        for nodeid, requirement, outcome in rows:
            fields = dict((extra or {}).get(nodeid, {}))
            records.append(
                results.TestRecord(
                    nodeid=nodeid,
                    requirements=[requirement],
                    level=catalogue.get(requirement).level.value,
                    outcome=outcome,
                    duration=0.25,
                    **fields,
                )
            )
        document = results.build_document(
            catalogue=catalogue,
            records=records,
            level=level,
            target=target
            or {
                "kind": "registry",
                "address": "http://127.0.0.1:5000",
                "name": "demo-registry",
                "version": "2.8.3",
            },
            host={"kernel": "6.1.0", "arch": "x86_64", "root": False},
            started="2026-12-03T10:00:00+00:00",
            finished="2026-12-03T10:01:30+00:00",
            command=["pytest", "--pyargs", "demo_suite"],
        )
        results.validate(document)
        return document

    return build


VOID_TAGS = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    }
)


class Node:
    """One element of a parsed HTML page (a tiny DOM for assertions on reports)."""

    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None) -> None:
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.children: list[Node | str] = []

    def iter(self) -> Iterator[Node]:
        """This node and every element below it, in document order."""
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        """Elements below with ``tag`` and attributes (``class_`` matches one class)."""
        found = []
        for node in self.iter():
            if tag is not None and node.tag != tag:
                continue
            if all(node.has(k, v) for k, v in attrs.items()):
                found.append(node)
        return found

    def has(self, key: str, value: str) -> bool:
        """True when the attribute ``key`` equals ``value`` (``class_``: contains the class)."""
        if key == "class_":
            return value in (self.attrs.get("class") or "").split()
        return self.attrs.get(key.replace("_", "-")) == value

    def by_id(self, element_id: str) -> Node:
        """The element with ``id``; fails the test when absent."""
        found = self.find_all(id=element_id)
        assert len(found) == 1, f"expected one element with id {element_id!r}, got {len(found)}"
        return found[0]

    def text(self) -> str:
        """The concatenated text below this element."""
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        if tag not in VOID_TAGS:
            self.current = node

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is None or node.parent is None:
            raise AssertionError(f"unbalanced </{tag}> in the page")
        self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


@pytest.fixture
def parse_html() -> Callable[[str], Node]:
    """Parse an HTML page into a :class:`Node` tree (stdlib parser, no dependency)."""

    def parse(text: str) -> Node:
        builder = _TreeBuilder()
        builder.feed(text)
        builder.close()
        assert builder.current is builder.root, f"unclosed <{builder.current.tag}>"
        return builder.root

    return parse
