"""JUnit XML (xunit2 family) rendered once from the result model, after the run.

Rendering from ``results.json`` rather than from pytest's own ``--junitxml`` keeps the file
valid under pytest-xdist and lets every testcase carry its requirement ids and level in its
name (``test_x [end-2][MUST]``), where CI viewers show them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any


def _testcase(test: dict[str, Any]) -> ET.Element:
    module, _, name = test["nodeid"].rpartition("::")
    tags = "".join(f"[{r}]" for r in test["requirements"]) + f"[{test['level']}]"
    case = ET.Element(
        "testcase",
        classname=module.replace("/", ".").removesuffix(".py"),
        name=f"{name} {tags}",
        time=f"{test['duration']:.3f}",
    )
    outcome, message = test["outcome"], test["message"]
    if outcome == "failed":
        ET.SubElement(case, "failure", message=message.splitlines()[0] if message else "failed")
        case[-1].text = message
    elif outcome == "error":
        ET.SubElement(case, "error", message=message.splitlines()[0] if message else "error")
        case[-1].text = message
    elif outcome in ("skipped", "not-applicable"):
        category = test.get("skip_category") or "other"
        ET.SubElement(case, "skipped", message=f"{outcome} ({category}): {message}")
    elif outcome == "known-deviation":
        dev = test.get("deviation") or {}
        text = f"known deviation: {dev.get('reason', '')} {dev.get('upstream', '')}".strip()
        ET.SubElement(case, "skipped", message=text)
        ET.SubElement(case, "system-out").text = message
    elif outcome == "warning":
        ET.SubElement(case, "system-out").text = f"WARNING ({test['level']} missed): {message}"
    return case


def render(document: dict[str, Any]) -> str:
    """The JUnit XML text of one ``results.json`` document."""
    summary = document["summary"]
    failures = summary["failed"]
    suite = ET.Element(
        "testsuite",
        name=f"{document['suite']} ({document['spec']['name']} {document['spec']['version']})",
        tests=str(len(document["tests"])),
        failures=str(failures),
        errors=str(summary["errors"]),
        skipped=str(
            summary["skipped"] + summary["not_applicable"] + summary.get("known_deviations", 0)
        ),
        timestamp=document["started"],
    )
    props = ET.SubElement(suite, "properties")
    target = document["target"]
    for name, value in (
        ("spec", document["spec"]["name"]),
        ("spec_version", document["spec"]["version"]),
        ("catalogue_digest", document["catalogue_digest"]),
        ("level", document["level"]),
        (
            "target",
            " ".join(p for p in (target["name"], target["version"], target["address"]) if p),
        ),
        ("verdict", document["verdict"]),
    ):
        ET.SubElement(props, "property", name=name, value=str(value))
    for test in document["tests"]:
        suite.append(_testcase(test))
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write(document: dict[str, Any], path: Path) -> None:
    """Write the JUnit XML of ``document`` to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(document))
