"""The pytest plugin: target options, the ``requirement`` marker, outcomes and results.

Registered through the ``pytest11`` entry point, so it is active in every pytest run of an
environment where the package is installed. It only acts on tests that belong to a suite
(modules under a catalogue's package); the project's own tests run untouched.

Under pytest-xdist each worker classifies its tests and ships the record inside the report's
``user_properties``; the controller merges them and writes one ``results.json`` per suite when
the session ends, so no record is lost between workers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import logging
import sys
from collections.abc import Generator, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _pytest.outcomes import Failed, Skipped

from conformance import hookspecs
from conformance.core import deviations as deviations_mod
from conformance.core import host as host_mod
from conformance.core import results as results_mod
from conformance.core.catalogue import Catalogue, Level
from conformance.core.errors import ConfigurationError, HarnessError, Violation
from conformance.core.evidence import Evidence, collecting
from conformance.core.options import Option
from conformance.core.outcomes import CategorizedSkip, Outcome, SkipCategory
from conformance.suites import SUITES

log = logging.getLogger(__name__)

PROPERTY = "conformance"
"""Name of the ``user_properties`` entry that carries a phase's record to the controller."""

PASSING_EVIDENCE_LIMIT = 2048
"""Characters kept per field of a passing test's evidence; failures keep everything."""

PASSING_EVIDENCE_ENTRIES = 40


@dataclass
class ItemInfo:
    """What the plugin knows about one collected conformance test."""

    catalogue: Catalogue
    requirement_ids: list[str]
    level: Level
    evidence: Evidence = field(default_factory=Evidence)
    outcome: Outcome = Outcome.PASSED


ITEM_INFO = pytest.StashKey[ItemInfo]()
STATE = pytest.StashKey["ConformanceState"]()


class ConformanceState:
    """Per-session state, reachable from tests through the ``conformance`` fixture."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.level = Level(str(config.getoption("conformance_level")).upper())
        self.catalogues: dict[str, Catalogue] = {}
        self.records: dict[str, results_mod.TestRecord] = {}
        self.record_suites: dict[str, str] = {}
        self.targets: dict[str, dict[str, Any]] = {}
        self.deviations: list[deviations_mod.Deviation] = []
        self.started = results_mod.now()
        self.options: dict[str, Option] = {}
        self.called: set[str] = set()

    # -- options -------------------------------------------------------------------------

    def option(self, flag: str) -> Any:
        """The effective value of a target option: the flag, else its env vars, else default."""
        try:
            opt = self.options[flag]
        except KeyError:
            raise ConfigurationError(f"no such target option: {flag}") from None
        return opt.resolve(self.config.getoption(opt.dest))

    # -- target ----------------------------------------------------------------------------

    def record_target(
        self,
        suite: str,
        *,
        kind: str,
        address: str,
        name: str = "",
        version: str = "",
        **details: Any,
    ) -> None:
        """Record which implementation the suite talks to, as it reports itself."""
        self.targets[suite] = {
            "kind": kind,
            "address": address,
            "name": name,
            "version": version,
            "details": details,
        }

    def implementation(self, suite: str) -> tuple[str, str]:
        """The (name, version) deviations are looked up by; ``--implementation`` overrides."""
        forced = self.config.getoption("conformance_implementation")
        target = self.targets.get(suite, {})
        return (forced or target.get("name", ""), target.get("version", ""))

    # -- records (hooks: this object is registered as a plugin) ----------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Merge the record a (possibly remote) phase report carries."""
        payload = _payload(report)
        if payload is not None:
            self.add_record(payload["suite"], results_mod.TestRecord(**payload["record"]))
            if report.when == "call":
                self.called.add(report.nodeid)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """Collect the targets a pytest-xdist worker recorded."""
        output = getattr(node, "workeroutput", {}) or {}
        text = output.get("conformance_targets")
        if text:
            for suite, target in json.loads(text).items():
                self.targets.setdefault(suite, target)

    def add_record(self, suite: str, record: results_mod.TestRecord) -> None:
        """Merge one phase's record into the test's record."""
        known = self.records.get(record.nodeid)
        if known is None:
            self.records[record.nodeid] = record
            self.record_suites[record.nodeid] = suite
        else:
            known.merge_phase(record)

    def suites_in_run(self) -> list[str]:
        """Suites with records, plus those named by ``--conformance-suite``."""
        named = self.config.getoption("conformance_suite") or []
        seen = dict.fromkeys([*named, *self.record_suites.values()])
        return [s for s in seen if s in self.catalogues]

    def _unfinished(self, record: results_mod.TestRecord) -> results_mod.TestRecord:
        """An error in place of a "passed" record whose test body never reported.

        A Ctrl-C during the test body leaves passing setup and teardown reports only; without
        this the interrupted test would count as passed.
        """
        if record.outcome != Outcome.PASSED or record.nodeid in self.called:
            return record
        return dataclasses.replace(
            record,
            outcome=Outcome.ERROR.value,
            message="the test did not run to completion (the run was interrupted)",
        )

    def document(self, suite: str) -> dict[str, Any]:
        """The ``results.json`` document of ``suite``."""
        records = [
            self._unfinished(r) for n, r in self.records.items() if self.record_suites[n] == suite
        ]
        return results_mod.build_document(
            catalogue=self.catalogues[suite],
            records=records,
            level=self.level,
            target=self.targets.get(suite, {"kind": suite, "address": "", "name": ""}),
            host=host_mod.facts(),
            started=self.started,
            finished=results_mod.now(),
            command=sys.argv,
        )


# -- registration ---------------------------------------------------------------------------


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def suite_options() -> dict[str, list[Option]]:
    """The target options each shipped suite declares in its ``options`` module."""
    found: dict[str, list[Option]] = {}
    for suite in SUITES.values():
        module = suite.module("options")
        if module is not None:
            found[suite.name] = list(module.OPTIONS)
    return found


def _add_option(group: pytest.OptionGroup, opt: Option) -> None:
    if opt.kind == "list":
        group.addoption(opt.flag, dest=opt.dest, action="append", help=opt.help_text())
    elif opt.kind == "bool":
        group.addoption(
            opt.flag, dest=opt.dest, nargs="?", const=True, type=opt.parse, help=opt.help_text()
        )
    else:
        group.addoption(opt.flag, dest=opt.dest, type=opt.parse, help=opt.help_text())


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "conformance harness")
    group.addoption(
        "--level",
        dest="conformance_level",
        default="must",
        choices=["must", "should", "may", "MUST", "SHOULD", "MAY"],
        help="certification profile: misses below this level are warnings (default: must)",
    )
    group.addoption(
        "--report-dir",
        dest="conformance_report_dir",
        default=None,
        help="write results.json, junit.xml and report.html per suite under DIR/<suite>/",
    )
    group.addoption(
        "--conformance-suite",
        dest="conformance_suite",
        action="append",
        default=[],
        help="suite this run is for; its results are written even when no test ran",
    )
    group.addoption(
        "--deviations",
        dest="conformance_deviations",
        action="append",
        default=[],
        help="extra known-deviation YAML file (repeatable)",
    )
    group.addoption(
        "--implementation",
        dest="conformance_implementation",
        default=None,
        help="implementation name to look deviations up by (default: as the target reports)",
    )
    group.addoption(
        "--test-timeout",
        dest="conformance_timeout",
        type=float,
        default=None,
        help="per-test timeout in seconds (default: set per suite)",
    )
    for suite, options in suite_options().items():
        suite_group = parser.getgroup(f"conformance-{suite}", f"{suite} suite target")
        for opt in options:
            _add_option(suite_group, opt)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "requirement(*ids): the catalogue requirements this test checks; "
        "level and spec link come from the catalogue",
    )
    state = ConformanceState(config)
    for options in suite_options().values():
        state.options.update({o.flag: o for o in options})
    for cats in config.hook.pytest_conformance_catalogues(config=config):
        for cat in cats:
            state.catalogues[cat.suite] = cat
    for suite in state.catalogues:
        info = SUITES.get(suite)
        if info is not None:
            state.deviations.extend(deviations_mod.load_dir(_suite_dir(suite) / "deviations"))
    for extra in config.getoption("conformance_deviations"):
        state.deviations.extend(deviations_mod.load_file(Path(extra)))
    config.stash[STATE] = state
    config.pluginmanager.register(state, "conformance-state")


def _suite_dir(suite: str) -> Path:
    return Path(__file__).parent / suite


@pytest.hookimpl(trylast=True)
def pytest_conformance_catalogues(config: pytest.Config) -> list[Catalogue]:
    """The catalogues of the shipped suites that exist in this installation."""
    found = []
    for suite in SUITES.values():
        module = suite.module("requirements")
        if module is not None:
            found.append(module.CATALOGUE)
    return found


# -- collection -----------------------------------------------------------------------------


def _catalogue_for(state: ConformanceState, item: pytest.Item) -> Catalogue | None:
    module = getattr(item, "module", None)
    name = getattr(module, "__name__", "")
    for cat in state.catalogues.values():
        if cat.owns(name):
            return cat
    return None


def _requirement_ids(item: pytest.Item) -> list[str]:
    ids: list[str] = []
    for mark in item.iter_markers("requirement"):
        ids.extend(str(a) for a in mark.args)
    return list(dict.fromkeys(ids))


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    state = config.stash[STATE]
    problems: list[str] = []
    for item in items:
        catalogue = _catalogue_for(state, item)
        if catalogue is None:
            continue
        ids = _requirement_ids(item)
        if not ids:
            problems.append(f"{item.nodeid}: no @pytest.mark.requirement(...) given")
            continue
        unknown = [i for i in ids if i not in catalogue]
        if unknown:
            problems.append(
                f"{item.nodeid}: requirement ids not in the {catalogue.suite!r} catalogue: "
                + ", ".join(unknown)
            )
            continue
        item.stash[ITEM_INFO] = ItemInfo(catalogue, ids, catalogue.strongest(ids))
        _apply_timeout(config, item, catalogue.suite)
    if problems:
        raise pytest.UsageError(
            "conformance tests without valid requirements:\n  " + "\n  ".join(problems)
        )


def _apply_timeout(config: pytest.Config, item: pytest.Item, suite: str) -> None:
    if item.get_closest_marker("timeout") is not None:
        return
    seconds = config.getoption("conformance_timeout")
    if seconds is None:
        info = SUITES.get(suite)
        seconds = info.timeout if info else 60.0
    item.add_marker(pytest.mark.timeout(seconds))


# -- running --------------------------------------------------------------------------------


@contextlib.contextmanager
def _evidence_scope(item: pytest.Item) -> Iterator[None]:
    info = item.stash.get(ITEM_INFO, None)
    if info is None:
        yield
        return
    with collecting(info.evidence):
        yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    with _evidence_scope(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    with _evidence_scope(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    with _evidence_scope(item):
        return (yield)


def _finding(exc: BaseException, catalogue: Catalogue, info: ItemInfo) -> dict[str, str] | None:
    if not isinstance(exc, Violation):
        return None
    link = exc.reference or catalogue.link(catalogue.get(info.requirement_ids[0]))
    return {
        "where": exc.where,
        "expected": str(exc.expected),
        "got": repr(exc.got) if not isinstance(exc.got, str) else exc.got,
        "reference": link,
    }


def _is_implementation_fault(exc: BaseException, when: str) -> bool:
    if isinstance(exc, HarnessError):
        return False
    if isinstance(exc, Violation):
        return True
    return when == "call" and isinstance(exc, AssertionError | Failed)


def classify(
    state: ConformanceState, item: pytest.Item, call: pytest.CallInfo[None], rep: pytest.TestReport
) -> results_mod.TestRecord:
    """Turn one phase's pytest report into a record with the conformance outcome."""
    info = item.stash[ITEM_INFO]
    record = results_mod.TestRecord(
        nodeid=item.nodeid,
        requirements=info.requirement_ids,
        level=info.level.value,
        outcome=Outcome.PASSED.value,
        duration=round(rep.duration, 4),
    )
    exc = call.excinfo.value if call.excinfo is not None else None
    if rep.skipped:
        _classify_skip(record, exc, rep)
    elif rep.failed and exc is not None:
        _classify_failure(state, info, record, exc, rep, call.when)
    elif call.when == "call":
        _note_stale_deviation(state, info, record)
    return record


def _note_stale_deviation(
    state: ConformanceState, info: ItemInfo, record: results_mod.TestRecord
) -> None:
    """Keep the declared deviation on a passing record, so stale entries surface in reports."""
    name, version = state.implementation(info.catalogue.suite)
    if not name:
        return
    dev = deviations_mod.find(state.deviations, name, version, record.nodeid, info.requirement_ids)
    if dev is not None:
        record.deviation = dev.to_dict()
        record.message = f"declared deviation did not occur; {dev.source} may be out of date"


def _classify_skip(
    record: results_mod.TestRecord, exc: BaseException | None, rep: pytest.TestReport
) -> None:
    if isinstance(exc, CategorizedSkip):
        record.outcome = (Outcome.NOT_APPLICABLE if exc.not_applicable else Outcome.SKIPPED).value
        record.skip_category = exc.category.value
        record.message = str(exc.msg or "")
        return
    record.outcome = Outcome.SKIPPED.value
    record.skip_category = SkipCategory.OTHER.value
    if isinstance(exc, Skipped):
        record.message = str(exc.msg or "")
    elif isinstance(rep.longrepr, tuple):
        record.message = str(rep.longrepr[2])


def _classify_failure(
    state: ConformanceState,
    info: ItemInfo,
    record: results_mod.TestRecord,
    exc: BaseException,
    rep: pytest.TestReport,
    when: str,
) -> None:
    record.message = _message(exc, rep)
    if not _is_implementation_fault(exc, when):
        record.outcome = Outcome.ERROR.value
        return
    record.finding = _finding(exc, info.catalogue, info)
    if not info.level.at_least(state.level):
        record.outcome = Outcome.WARNING.value
        return
    record.outcome = Outcome.FAILED.value
    name, version = state.implementation(info.catalogue.suite)
    if not name:
        return
    dev = deviations_mod.find(state.deviations, name, version, rep.nodeid, info.requirement_ids)
    if dev is not None:
        record.outcome = Outcome.KNOWN_DEVIATION.value
        record.deviation = dev.to_dict()


def _message(exc: BaseException, rep: pytest.TestReport) -> str:
    if isinstance(exc, Violation | Failed | HarnessError):
        return str(exc)
    head = f"{type(exc).__name__}: {exc}"
    text = rep.longreprtext
    return head + "\n\n" + (text[-4000:] if len(text) > 4000 else text)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    rep = yield
    info = item.stash.get(ITEM_INFO, None)
    if info is None:
        return rep
    state = item.config.stash[STATE]
    record = classify(state, item, call, rep)
    outcome = Outcome(record.outcome)
    if outcome.severity > info.outcome.severity or info.outcome in (
        Outcome.SKIPPED,
        Outcome.NOT_APPLICABLE,
    ):
        info.outcome = outcome
    if outcome in (Outcome.WARNING, Outcome.KNOWN_DEVIATION):
        # A miss below the chosen level, or a declared deviation, must not fail the pytest
        # run; the record keeps the outcome and the message.
        rep.outcome = "passed"
        rep.longrepr = None
    if call.when == "teardown":
        record.evidence = _final_evidence(info)
    payload = {"suite": info.catalogue.suite, "record": asdict(record)}
    rep.user_properties.append((PROPERTY, json.dumps(payload)))
    return rep


def _final_evidence(info: ItemInfo) -> list[dict[str, Any]]:
    if info.outcome in (Outcome.PASSED, Outcome.SKIPPED, Outcome.NOT_APPLICABLE):
        return info.evidence.to_list(PASSING_EVIDENCE_LIMIT)[-PASSING_EVIDENCE_ENTRIES:]
    return info.evidence.to_list()


def pytest_report_teststatus(
    report: pytest.TestReport, config: pytest.Config
) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
    payload = _payload(report)
    if payload is None or report.when not in ("call", "setup"):
        return None
    outcome = payload["record"]["outcome"]
    if outcome == Outcome.WARNING:
        return "warned", "W", ("WARNING", {"yellow": True})
    if outcome == Outcome.KNOWN_DEVIATION:
        return "deviated", "D", ("KNOWN DEVIATION", {"yellow": True})
    if outcome == Outcome.NOT_APPLICABLE:
        return "not-applicable", "n", ("N/A", {"yellow": False})
    return None


def _payload(report: pytest.TestReport) -> dict[str, Any] | None:
    for name, value in getattr(report, "user_properties", ()):
        if name == PROPERTY and isinstance(value, str):
            data: dict[str, Any] = json.loads(value)
            return data
    return None


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def conformance(request: pytest.FixtureRequest) -> ConformanceState:
    """The session's conformance state: target options, target recording, chosen level."""
    return request.config.stash[STATE]


@pytest.fixture
def evidence(request: pytest.FixtureRequest) -> Evidence:
    """The running test's evidence log (also reachable through ``current_evidence()``)."""
    info = request.node.stash.get(ITEM_INFO, None)
    return info.evidence if info is not None else Evidence()


@pytest.fixture(autouse=True)
def _conformance_allure_labels(request: pytest.FixtureRequest) -> None:
    """Label Allure results with spec, requirement and severity, when allure-pytest runs."""
    info = request.node.stash.get(ITEM_INFO, None)
    if info is None or not request.config.pluginmanager.hasplugin("allure_pytest"):
        return
    # allure-pytest ships no type hints; keep its calls out of strict checking.
    allure: Any = importlib.import_module("allure")

    severity = {
        Level.MUST: allure.severity_level.BLOCKER,
        Level.SHOULD: allure.severity_level.NORMAL,
        Level.MAY: allure.severity_level.MINOR,
    }[info.level]
    cat = info.catalogue
    allure.dynamic.severity(severity)
    allure.dynamic.epic(f"{cat.spec_name} {cat.spec_version}")
    for rid in info.requirement_ids:
        req = cat.get(rid)
        allure.dynamic.feature(req.section)
        allure.dynamic.story(rid)
        allure.dynamic.link(cat.link(req), name=rid)


# -- session end ----------------------------------------------------------------------------


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    state = config.stash[STATE]
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["conformance_targets"] = json.dumps(state.targets)
        return
    report_dir = config.getoption("conformance_report_dir")
    if not report_dir:
        return
    for suite in state.suites_in_run():
        document = state.document(suite)
        write_outputs(document, Path(report_dir) / suite)


def write_outputs(document: dict[str, Any], directory: Path) -> None:
    """Write ``results.json``, ``junit.xml`` and ``report.html`` of one suite run."""
    results_mod.write(document, directory / "results.json")
    from reports import junit

    junit.write(document, directory / "junit.xml")
    try:
        from reports import html
    except ImportError:  # the HTML renderer is optional for a bare plugin run
        return
    html.write_report([document], directory / "report.html")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is None or hasattr(config, "workerinput"):
        return
    for suite in state.suites_in_run():
        document = state.document(suite)
        counts = document["summary"]
        line = (
            f"{suite}: {document['verdict'].upper()} at level {document['level']} - "
            f"{counts['passed']} passed, {counts['failed']} failed, "
            f"{counts['warnings']} warnings, {counts['known_deviations']} known deviations, "
            f"{counts['skipped']} skipped, {counts['not_applicable']} not applicable, "
            f"{counts['errors']} errors"
        )
        terminalreporter.write_sep("-", "conformance")
        terminalreporter.write_line(line)
        for reason in document["verdict_reasons"]:
            terminalreporter.write_line(f"  {reason}")
