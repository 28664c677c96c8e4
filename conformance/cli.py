"""The ``conformance`` command: run suites, render reports, list catalogues.

Commands::

    conformance run [SUITE ...] [--report DIR] [-n WORKERS] [--level L] [TARGET OPTIONS ...]
    conformance report RESULTS.json [...] -o OUT.html [--matrix] [--delta OLD NEW]
    conformance list [SUITE] [--json]

Exit status: 0 when every requirement at the chosen level passed and nothing broke; 1 when
a requirement at the chosen level failed (verdict ``non-conformant``) or, for ``report
--delta``, a MUST test regressed; 2 on a usage error or when the harness broke (pytest
crashed, a results file is missing or invalid, a test ended in an error). A harness error
wins over a failure: a run whose harness broke cannot be trusted either way.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from conformance.core import results as results_mod
from conformance.core.catalogue import Catalogue
from conformance.core.errors import ConfigurationError
from conformance.suites import SUITES, SuiteInfo

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_ERROR = 2

PYTEST_USAGE_ERRORS = (2, 3, 4)
"""pytest exit codes meaning interrupted, internal error and usage error."""


class UsageError(Exception):
    """The user asked for something the command cannot do; the message says what."""


# -- suites --------------------------------------------------------------------------------


def installed_suites() -> dict[str, SuiteInfo]:
    """Shipped suites whose package exists (it has a ``requirements`` module)."""
    return {n: s for n, s in SUITES.items() if s.module("requirements") is not None}


def catalogue_of(suite: str) -> Catalogue:
    """The catalogue of an installed suite."""
    module = SUITES[suite].module("requirements")
    if module is None:
        raise UsageError(f"suite {suite!r} is not installed")
    catalogue: Catalogue = module.CATALOGUE
    return catalogue


def select_suites(names: Sequence[str], packages: dict[str, str]) -> list[str]:
    """Validate the suite names given on the command line; none means every installed one.

    Args:
        names: suite names as typed.
        packages: extra ``suite -> package`` mappings (the hidden ``--suite-package``).
    """
    installed = installed_suites()
    if not names:
        chosen = list(installed) + [p for p in packages if p not in installed]
        if not chosen:
            raise UsageError("no suite is installed")
        return chosen
    valid = ", ".join(sorted(set(installed) | set(packages))) or "(none installed)"
    for name in names:
        if name in packages or name in installed:
            continue
        if name in SUITES:
            raise UsageError(f"suite {name!r} is not installed in this copy; installed: {valid}")
        raise UsageError(f"unknown suite {name!r}; valid suites: {valid}")
    return list(dict.fromkeys(names))


# -- run -------------------------------------------------------------------------------------


@dataclass
class SuiteRun:
    """How one suite's run ended."""

    suite: str
    returncode: int
    results: Path
    document: dict[str, Any] | None = None
    problem: str = ""


@dataclass
class RunArgs:
    """The parsed ``conformance run`` command line."""

    suites: list[str]
    report: Path
    workers: str | None
    level: str | None
    allure: bool
    packages: dict[str, str] = field(default_factory=dict)
    passthrough: list[str] = field(default_factory=list)


def run_parser() -> argparse.ArgumentParser:
    """The parser of the options ``run`` itself understands; the rest goes to pytest."""
    parser = argparse.ArgumentParser(
        prog="conformance run",
        usage="conformance run [SUITE ...] [options] [TARGET OPTIONS ...]",
        epilog="installed suites: " + (", ".join(installed_suites()) or "(none)"),
        allow_abbrev=False,
        description="Run suites against a target (the bundled reference when none is given). "
        "Options not listed here (the suites' target options such as --registry-url, and "
        "pytest options such as -k) are passed to pytest.",
    )
    parser.add_argument("--report", default="conformance-report", help="report directory")
    parser.add_argument("-n", "--workers", default=None, help="pytest-xdist workers (or auto)")
    parser.add_argument("--level", type=str.lower, choices=["must", "should", "may"])
    parser.add_argument(
        "--no-allure", dest="allure", action="store_false", help="do not write Allure results"
    )
    parser.add_argument(
        "--suite-package", action="append", default=[], metavar="SUITE=PACKAGE",
        help=argparse.SUPPRESS,
    )  # fmt: skip
    return parser


def parse_run(argv: Sequence[str]) -> RunArgs:
    """Parse ``conformance run`` arguments: leading words are suites, then options.

    Suite names come first because the value of an unknown option (``--registry-url URL``)
    cannot be told from a suite name otherwise.
    """
    args = list(argv)
    suites: list[str] = []
    while args and not args[0].startswith("-"):
        suites.append(args.pop(0))
    parser = run_parser()
    try:
        known, rest = parser.parse_known_args(args)
    except SystemExit as exc:  # argparse has printed its message
        raise ParserExitError(int(exc.code or 0)) from None
    packages = {}
    for spec in known.suite_package:
        name, sep, package = spec.partition("=")
        if not sep or not name or not package:
            raise UsageError(f"--suite-package expects SUITE=PACKAGE, got {spec!r}")
        packages[name] = package
    return RunArgs(
        suites=select_suites(suites, packages),
        report=Path(known.report),
        workers=known.workers,
        level=known.level,
        allure=known.allure and _allure_available(),
        packages=packages,
        passthrough=rest,
    )


class ParserExitError(Exception):
    """argparse already printed help or an error; exit with ``code``."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _allure_available() -> bool:
    try:
        import allure_pytest  # noqa: F401
    except ImportError:
        return False
    return True


def pytest_command(args: RunArgs, suite: str) -> list[str]:
    """The pytest command line that runs ``suite``."""
    package = args.packages.get(suite, f"conformance.{suite}")
    cmd = [sys.executable, "-m", "pytest", "--pyargs", package, "-p", "no:cacheprovider"]
    root = package_root(package)
    if root is not None:
        # Node ids are relative to the rootdir; pinning it keeps them the same whatever the
        # working directory, so runs made in different places can be compared (delta, matrix).
        cmd += ["--rootdir", str(root)]
    cmd += ["--report-dir", str(args.report), "--conformance-suite", suite]
    if args.allure:
        cmd += ["--alluredir", str(args.report / suite / "allure-results"), "--clean-alluredir"]
    if args.workers:
        cmd += ["-n", args.workers]
    if args.level:
        cmd += ["--level", args.level]
    return cmd + args.passthrough


def package_root(package: str) -> Path | None:
    """The directory holding the top-level package of ``package``; ``None`` when not found."""
    top = package.split(".", 1)[0]
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))).parent


def run_suite(args: RunArgs, suite: str) -> SuiteRun:
    """Run one suite in a pytest subprocess and read the results it wrote."""
    results = args.report / suite / "results.json"
    results.unlink(missing_ok=True)  # never read a previous run's results
    cmd = pytest_command(args, suite)
    _say(f"== conformance: running suite {suite}")
    _say("   " + " ".join(cmd))
    sys.stdout.flush()
    returncode = _wait_for(cmd)
    run = SuiteRun(suite, returncode, results)
    if returncode in PYTEST_USAGE_ERRORS:
        run.problem = f"pytest ended with exit status {returncode} (usage error or crash)"
    if not results.exists():
        run.problem = run.problem or f"pytest wrote no results to {results}"
        return run
    try:
        run.document = results_mod.load(results)
    except ConfigurationError as err:
        run.problem = str(err)
    return run


INTERRUPT_GRACE = 60.0
"""Seconds a suite may take to clean up after Ctrl-C before it is killed."""


def _wait_for(cmd: list[str]) -> int:
    """Run ``cmd``; on Ctrl-C let it finish its teardown (it got the signal too), then stop."""
    proc = subprocess.Popen(cmd)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        _say("== conformance: interrupted, waiting for the suite to clean up")
        try:
            proc.wait(timeout=INTERRUPT_GRACE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise


def exit_status(runs: Sequence[SuiteRun]) -> int:
    """The command's exit status for these suite runs (see the module docstring)."""
    status = EXIT_OK
    for run in runs:
        if run.problem or run.document is None or run.document["summary"]["errors"]:
            return EXIT_ERROR
        if run.document["verdict"] == "non-conformant":
            status = EXIT_FAILED
    return status


def summary_line(run: SuiteRun) -> str:
    """One line per suite for the end of ``conformance run``."""
    if run.document is None:
        return f"{run.suite}: HARNESS ERROR - {run.problem}"
    doc = run.document
    counts = doc["summary"]
    text = (
        f"{run.suite}: {doc['verdict'].upper()} - {counts['passed']} passed, "
        f"{counts['failed']} failed, {counts['errors']} errors, {counts['total']} tests; "
        f"report {run.results.parent / 'report.html'}"
    )
    return text + (f" ({run.problem})" if run.problem else "")


def command_run(argv: Sequence[str]) -> int:
    """``conformance run``."""
    args = parse_run(argv)
    runs = [run_suite(args, suite) for suite in args.suites]
    documents = [r.document for r in runs if r.document is not None]
    if len(args.suites) > 1:
        from reports import index

        index.write_index(args.report / "index.html", [(r.suite, r.document) for r in runs])
    _say("== conformance: summary")
    for run in runs:
        _say("   " + summary_line(run))
    if len(args.suites) > 1:
        _say(f"   index: {args.report / 'index.html'}")
    status = exit_status(runs)
    log.debug("run finished: %d documents, exit %d", len(documents), status)
    return status


# -- report ----------------------------------------------------------------------------------


def report_parser() -> argparse.ArgumentParser:
    """The parser of ``conformance report``."""
    parser = argparse.ArgumentParser(
        prog="conformance report",
        allow_abbrev=False,
        description="Render results.json files: one gives a report, several of one suite a "
        "comparison matrix (also as .md and .csv beside it), --delta OLD NEW the changes "
        "between two runs (also delta.json beside it).",
    )
    parser.add_argument("results", nargs="*", type=Path, help="results.json files")
    parser.add_argument("-o", "--output", type=Path, default=None, help="HTML file to write")
    parser.add_argument("--matrix", action="store_true", help="comparison matrix (implied)")
    parser.add_argument(
        "--delta", nargs=2, type=Path, metavar=("OLD", "NEW"), help="compare two runs"
    )
    return parser


def _load_all(paths: Sequence[Path]) -> list[dict[str, Any]]:
    documents = []
    for path in paths:
        if not path.is_file():
            raise UsageError(f"{path}: no such results file")
        try:
            documents.append(results_mod.load(path))
        except ConfigurationError as err:
            raise UsageError(f"{path}: {err}") from None
    return documents


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def command_report(argv: Sequence[str]) -> int:
    """``conformance report``."""
    try:
        args = report_parser().parse_args(argv)
    except SystemExit as exc:
        raise ParserExitError(int(exc.code or 0)) from None
    if args.delta:
        if args.results:
            raise UsageError("give either RESULTS files or --delta OLD NEW, not both")
        return _report_delta(args.delta[0], args.delta[1], args.output)
    if not args.results:
        raise UsageError("give at least one results.json file (or --delta OLD NEW)")
    documents = _load_all(args.results)
    output = args.output or Path("matrix.html" if len(documents) > 1 else "report.html")
    from reports import html, matrix

    try:
        if len(documents) == 1 and not args.matrix:
            html.write_report(documents, output, [_sha256(args.results[0])])
        else:
            view = matrix.build(documents, [str(p) for p in args.results])
            matrix.write_all(view, output)
    except matrix.MatrixError as err:
        raise UsageError(str(err)) from None
    _say(f"wrote {output}")
    return EXIT_OK


def _report_delta(old_path: Path, new_path: Path, output: Path | None) -> int:
    from reports import delta

    old, new = _load_all([old_path, new_path])
    output = output or Path("delta.html")
    try:
        result = delta.compute(old, new, str(old_path), str(new_path))
    except delta.DeltaError as err:
        raise UsageError(str(err)) from None
    delta.write_all(result, output)
    _say(f"wrote {output} and {output.with_name('delta.json')}")
    _say(delta.summary_text(result))
    return EXIT_FAILED if result.must_regressions else EXIT_OK


# -- list ------------------------------------------------------------------------------------


# Runs in the collecting subprocess. It must not import the conformance package before
# pytest starts, or pytest could not rewrite the plugin's asserts (and warns about it).
_COLLECT_BOOTSTRAP = """
import json, sys
import pytest


class DumpRequirements:
    def pytest_collection_finish(self, session):
        found = {}
        for item in session.items:
            ids = [str(a) for m in item.iter_markers("requirement") for a in m.args]
            found[item.nodeid] = list(dict.fromkeys(ids))
        with open(sys.argv[1], "w") as out:
            json.dump(found, out)


sys.exit(pytest.main(sys.argv[2:], plugins=[DumpRequirements()]))
"""


def collect_coverage(package: str) -> dict[str, list[str]]:
    """Collect ``package``'s tests in a pytest subprocess; each test's requirement ids."""
    with tempfile.TemporaryDirectory(prefix="conformance-list-") as tmp:
        out = Path(tmp) / "items.json"
        cmd = [sys.executable, "-c", _COLLECT_BOOTSTRAP, str(out)]
        cmd += ["--collect-only", "-q", "-p", "no:cacheprovider", "--pyargs", package]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if not out.exists() or proc.returncode not in (0, 5):
            detail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
            raise CollectionError(
                f"collecting {package} failed (pytest exit {proc.returncode}):\n  "
                + "\n  ".join(detail)
            )
        found: dict[str, list[str]] = json.loads(out.read_text())
        return found


class CollectionError(Exception):
    """The harness could not do its part (a collection or a subprocess broke)."""


def catalogue_rows(catalogue: Catalogue, coverage: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Each requirement with the number of collected tests covering it."""
    counts: dict[str, int] = {}
    for ids in coverage.values():
        for rid in ids:
            counts[rid] = counts.get(rid, 0) + 1
    return [
        {
            "id": r.id,
            "level": r.level.value,
            "section": r.section,
            "summary": r.summary,
            "link": catalogue.link(r),
            "tests": counts.get(r.id, 0),
        }
        for r in catalogue
    ]


def format_table(rows: Sequence[Sequence[str]], widths_cap: int = 60) -> str:
    """Rows as text columns aligned on the widest cell (each column capped)."""
    if not rows:
        return ""
    widths = [min(max(len(r[i]) for r in rows), widths_cap) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [c.ljust(w) for c, w in zip(row[:-1], widths[:-1], strict=True)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def command_list(argv: Sequence[str]) -> int:
    """``conformance list``."""
    parser = argparse.ArgumentParser(
        prog="conformance list",
        allow_abbrev=False,
        description="Show each suite's requirement catalogue and how many tests cover each.",
    )
    parser.add_argument("suite", nargs="?", help="one suite (default: every installed one)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--suite-package", action="append", default=[], help=argparse.SUPPRESS)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        raise ParserExitError(int(exc.code or 0)) from None
    packages = {}
    for spec in args.suite_package:
        name, _, package = spec.partition("=")
        packages[name] = package
    suites = select_suites([args.suite] if args.suite else [], packages)
    listing: dict[str, dict[str, Any]] = {}
    for suite in suites:
        catalogue = _catalogue_from(suite, packages)
        coverage = collect_coverage(packages.get(suite, f"conformance.{suite}"))
        listing[suite] = {
            "spec": f"{catalogue.spec_name} {catalogue.spec_version}",
            "requirements": catalogue_rows(catalogue, coverage),
        }
    if args.json:
        print(json.dumps(listing, indent=2))
        return EXIT_OK
    for suite, data in listing.items():
        rows = data["requirements"]
        untested = sum(1 for r in rows if not r["tests"])
        print(f"{suite}: {data['spec']} - {len(rows)} requirements, {untested} without tests")
        table = [("ID", "LEVEL", "TESTS", "SECTION", "SUMMARY")]
        table += [(r["id"], r["level"], str(r["tests"]), r["section"], r["summary"]) for r in rows]
        print(format_table(table))
        print()
    return EXIT_OK


def _catalogue_from(suite: str, packages: dict[str, str]) -> Catalogue:
    if suite not in packages:
        return catalogue_of(suite)
    module = importlib.import_module(f"{packages[suite]}.requirements")
    catalogue: Catalogue = module.CATALOGUE
    return catalogue


# -- main ------------------------------------------------------------------------------------

COMMANDS = {"run": command_run, "report": command_report, "list": command_list}

USAGE = """usage: conformance {run,report,list} ...

  run [SUITE ...] [--report DIR] [-n WORKERS] [--level must|should|may] [TARGET OPTIONS]
                       run suites (all installed ones by default) and write reports
  report RESULTS.json [...] [-o OUT.html] [--matrix] | report --delta OLD NEW [-o OUT.html]
                       render a report, a comparison matrix or a run-to-run delta
  list [SUITE] [--json]
                       show requirement catalogues and how many tests cover each

'conformance COMMAND --help' describes a command's options."""


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _fail(text: str) -> NoReturn:
    raise UsageError(text)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``conformance`` command; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    level = os.environ.get("CONFORMANCE_LOG", "WARNING").upper()
    logging.basicConfig(
        level=level if level in logging.getLevelNamesMapping() else "WARNING",
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return EXIT_OK if args else EXIT_ERROR
    command = COMMANDS.get(args[0])
    try:
        if command is None:
            _fail(f"unknown command {args[0]!r}; expected one of: {', '.join(COMMANDS)}")
        return command(args[1:])
    except ParserExitError as exc:
        return EXIT_OK if exc.code == 0 else EXIT_ERROR
    except UsageError as err:
        _say(f"conformance {args[0]}: error: {err}")
        return EXIT_ERROR
    except (CollectionError, ConfigurationError, OSError) as err:
        _say(f"conformance {args[0]}: harness error: {err}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        _say("conformance: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
