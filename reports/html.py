"""Self-contained HTML pages rendered from ``results.json`` documents.

Every page is one file: styles and the small filter script are inlined, nothing is fetched
from the network, so a report can be archived or attached to a CI run as is. Templates live in
``reports/templates/*.html.j2`` and only print a view model computed in Python
(:mod:`reports.model`, :mod:`reports.matrix`, :mod:`reports.delta`, :mod:`reports.index`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from conformance import __version__
from reports import model


@cache
def environment() -> jinja2.Environment:
    """The Jinja environment: package templates, autoescaping on, undefined names fatal."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("reports", "templates"),
        autoescape=jinja2.select_autoescape(["html", "html.j2"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, view: Any) -> str:
    """Render ``template`` with ``view`` as its only data."""
    return environment().get_template(template).render(view=view, generator=__version__)


def render_report(document: Mapping[str, Any], sha256: str | None = None) -> str:
    """The HTML report of one suite run.

    Args:
        document: a validated ``results.json`` document.
        sha256: digest of the stored results file; computed from ``document`` when omitted.
    """
    return render("report.html.j2", model.build(document, sha256))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write_report(
    documents: Sequence[Mapping[str, Any]],
    path: Path,
    sha256s: Sequence[str | None] | None = None,
) -> None:
    """Write one HTML page for ``documents`` to ``path``.

    One document gives the suite run's report; several documents of one suite give the
    comparison matrix (:func:`reports.matrix.build` refuses to mix suites).

    Args:
        documents: validated ``results.json`` documents.
        path: the HTML file to write.
        sha256s: digests of the stored results files, in the same order; optional.
    """
    if not documents:
        raise ValueError("write_report needs at least one results document")
    digests = list(sha256s) if sha256s is not None else [None] * len(documents)
    if len(documents) == 1:
        _write(path, render_report(documents[0], digests[0]))
        return
    from reports import matrix

    _write(path, render("matrix.html.j2", matrix.build(documents)))


def write_page(template: str, view: Any, path: Path) -> None:
    """Render ``template`` with ``view`` into ``path``."""
    _write(path, render(template, view))
