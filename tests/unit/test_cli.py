"""The ``conformance`` command: argument handling, exit status, and real runs of a tiny suite."""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conformance import cli
from conformance.core import results

Factory = Callable[..., dict[str, Any]]

# A made-up suite package: run through the hidden --suite-package mapping, its catalogue
# registered by a -p plugin, the way an out-of-tree suite would plug in.
REQUIREMENTS = """
from conformance.core.catalogue import Catalogue, Level, Requirement

CATALOGUE = Catalogue(
    suite="{suite}",
    spec_name="Tiny Spec",
    spec_version="v0.1",
    base_url="https://example.org/tiny/blob/v0.1",
    requirements=(
        Requirement("t-1", Level.MUST, "Basics", "the first rule", "spec.md#t1"),
        Requirement("t-2", Level.MUST, "Basics", "the second rule", "spec.md#t2"),
        Requirement("t-3", Level.SHOULD, "Extras", "the third rule", "spec.md#t3"),
        Requirement("t-4", Level.MAY, "Extras", "an untested rule", "spec.md#t4"),
    ),
    package="{suite}",
)
"""

TESTS = """
import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def target(conformance):
    conformance.record_target("{suite}", kind="reference", address="nowhere", name="tiny-ref")


@pytest.mark.requirement("t-1")
def test_first():
    pass


@pytest.mark.requirement("t-2")
def test_second():
    assert os.environ.get("TINY_BREAK") != "1", "broken on purpose"
    if os.environ.get("TINY_ERROR") == "1":
        raise KeyError("harness trouble")


@pytest.mark.requirement("t-3", "t-1")
def test_third():
    pass
"""

PLUGIN = """
import importlib


def pytest_conformance_catalogues(config):
    return [importlib.import_module(f"{{name}}.requirements").CATALOGUE for name in {suites!r}]
"""


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two tiny suite packages on the path of this process and of its children."""
    root = tmp_path / "pkgs"
    for suite in ("tiny_a", "tiny_b"):
        package = root / suite
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "requirements.py").write_text(REQUIREMENTS.format(suite=suite))
        (package / "test_tiny.py").write_text(textwrap.dedent(TESTS.format(suite=suite)))
    (root / "tiny_plugin.py").write_text(PLUGIN.format(suites=["tiny_a", "tiny_b"]))
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.delenv("TINY_BREAK", raising=False)
    monkeypatch.delenv("TINY_ERROR", raising=False)
    return tmp_path


def _run(tiny: Path, *args: str, suites: tuple[str, ...] = ("tiny_a",)) -> int:
    mapping = [a for s in ("tiny_a", "tiny_b") for a in ("--suite-package", f"{s}={s}")]
    argv = ["run", *suites, "--report", str(tiny / "out"), *mapping, "-p", "tiny_plugin", "-q"]
    # The tiny suites do not use hypothesis; not loading its plugin saves a second per run.
    argv += ["-p", "no:hypothesispytest"]
    return cli.main([*argv, *args])


def _results(tiny: Path, suite: str = "tiny_a") -> dict[str, Any]:
    return results.load(tiny / "out" / suite / "results.json")


class TestParseRun:
    """How ``conformance run`` splits its own options from pytest's."""

    def test_leading_words_are_suites_and_the_rest_passes_through(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Suite names come first; target options keep their values and order for pytest."""
        monkeypatch.setattr(cli, "installed_suites", lambda: {"distribution": None, "image": None})
        args = cli.parse_run(
            ["distribution", "image", "--registry-url", "http://127.0.0.1:5000", "-n", "2",
             "--report", "out", "-k", "pull and not slow", "--level", "SHOULD", "--no-allure"]
        )  # fmt: skip
        assert args.suites == ["distribution", "image"]
        assert args.passthrough == ["--registry-url", "http://127.0.0.1:5000", "-k",
                                    "pull and not slow"]  # fmt: skip
        assert (args.workers, args.level, args.report, args.allure) == ("2", "should", Path("out"),
                                                                       False)  # fmt: skip

    def test_no_suite_means_every_installed_one(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without suite names every installed suite runs."""
        monkeypatch.setattr(cli, "installed_suites", lambda: {"cni": None, "csi": None})
        assert cli.parse_run(["--report", "x"]).suites == ["cni", "csi"]

    def test_pytest_command_for_a_suite(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The suite runs as pytest --pyargs with the report dir, Allure dir and workers."""
        monkeypatch.setattr(cli, "installed_suites", lambda: {"distribution": None})
        args = cli.parse_run(["distribution", "--report", "out", "-n", "3", "--tls-verify"])
        args.allure = True
        cmd = cli.pytest_command(args, "distribution")
        assert cmd[1:5] == ["-m", "pytest", "--pyargs", "conformance.distribution"]
        joined = " ".join(cmd)
        assert "--report-dir out --conformance-suite distribution" in joined
        assert "--alluredir out/distribution/allure-results" in joined
        assert cmd[-3:] == ["-n", "3", "--tls-verify"]

    def test_unknown_suite_is_a_usage_error_listing_valid_ones(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A misspelt suite exits 2 and names the valid suites, without a traceback."""
        monkeypatch.setattr(cli, "installed_suites", lambda: {"distribution": None, "cni": None})
        assert cli.main(["run", "distrbution"]) == 2
        err = capsys.readouterr().err
        assert "unknown suite 'distrbution'; valid suites: cni, distribution" in err
        assert "Traceback" not in err

    def test_known_but_absent_suite_says_not_installed(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A shipped suite missing from this installation is named as such."""
        monkeypatch.setattr(cli, "installed_suites", lambda: {"cni": None})
        assert cli.main(["run", "csi"]) == 2
        assert "suite 'csi' is not installed" in capsys.readouterr().err

    def test_bad_option_value_exits_2(self, capsys: pytest.CaptureFixture[str]) -> None:
        """An invalid --level is a usage error."""
        assert cli.main(["run", "--level", "sometimes"]) == 2
        assert "invalid choice" in capsys.readouterr().err

    def test_unknown_command_exits_2(self, capsys: pytest.CaptureFixture[str]) -> None:
        """An unknown command names the valid ones."""
        assert cli.main(["frobnicate"]) == 2
        assert "expected one of: run, report, list" in capsys.readouterr().err


class TestExitStatus:
    """The exit status is computed from the results documents."""

    @pytest.mark.parametrize(
        ("rows", "expected"),
        [
            ([("t.py::a", "pull-1", "passed")], 0),
            ([("t.py::a", "pull-1", "failed")], 1),
            ([("t.py::a", "pull-1", "known-deviation")], 1),
            ([("t.py::a", "push-1", "warning")], 0),
            ([("t.py::a", "pull-1", "error")], 2),
            ([("t.py::a", "pull-1", "failed"), ("t.py::b", "pull-2", "error")], 2),
            ([], 0),
        ],
    )
    def test_status_per_outcome(
        self, make_document: Factory, rows: list[tuple[str, str, str]], expected: int
    ) -> None:
        """0 without MUST failures or errors, 1 on a MUST failure, 2 on an error."""
        run = cli.SuiteRun("demo", 0, Path("r.json"), make_document(rows))
        assert cli.exit_status([run]) == expected

    def test_missing_results_is_a_harness_error(self) -> None:
        """A suite that wrote no results makes the whole run exit 2."""
        run = cli.SuiteRun("demo", 3, Path("r.json"), None, "pytest crashed")
        assert cli.exit_status([run]) == 2


class TestReportCommand:
    """``conformance report`` on generated documents."""

    def _write(self, path: Path, document: dict[str, Any]) -> Path:
        results.write(document, path)
        return path

    def test_one_file_gives_a_report_with_its_file_digest(
        self, make_document: Factory, tmp_path: Path, parse_html: Any
    ) -> None:
        """One results file renders the run's report carrying that file's sha256."""
        import hashlib

        source = self._write(tmp_path / "r.json", make_document([("t.py::a", "pull-1", "passed")]))
        source.write_text(source.read_text().replace("\n", "\n  "))  # same data, other bytes
        assert cli.main(["report", str(source), "-o", str(tmp_path / "r.html")]) == 0
        page = parse_html((tmp_path / "r.html").read_text())
        assert hashlib.sha256(source.read_bytes()).hexdigest() in page.by_id("facts").text()

    def test_several_files_give_the_matrix_with_md_and_csv(
        self, make_document: Factory, tmp_path: Path, parse_html: Any
    ) -> None:
        """Several results of one suite render the comparison matrix and its exports."""
        a = self._write(tmp_path / "a.json", make_document([("t.py::a", "pull-1", "passed")]))
        b = self._write(tmp_path / "b.json", make_document([("t.py::a", "pull-1", "failed")]))
        assert cli.main(["report", str(a), str(b), "-o", str(tmp_path / "m.html")]) == 0
        assert parse_html((tmp_path / "m.html").read_text()).by_id("matrix")
        assert (tmp_path / "m.md").is_file()
        assert (tmp_path / "m.csv").is_file()

    def test_invalid_results_name_the_file(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A file that is not a valid results.json exits 2 naming the file and the field."""
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({"schema_version": "1.0"}))
        assert cli.main(["report", str(bad)]) == 2
        err = capsys.readouterr().err
        assert f"{bad}: results.json invalid" in err
        assert "Traceback" not in err

    def test_missing_file_is_named(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A results file that does not exist exits 2 naming it."""
        assert cli.main(["report", str(tmp_path / "nope.json")]) == 2
        assert f"{tmp_path / 'nope.json'}: no such results file" in capsys.readouterr().err

    def test_mixed_suites_are_refused(
        self, make_document: Factory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Results of different suites cannot share a matrix: exit 2."""
        a = self._write(tmp_path / "a.json", make_document([]))
        other = make_document([])
        other["suite"] = "other"
        b = self._write(tmp_path / "b.json", other)
        assert cli.main(["report", str(a), str(b)]) == 2
        assert "different suites" in capsys.readouterr().err

    @pytest.mark.parametrize(("new_outcome", "expected"), [("failed", 1), ("passed", 0)])
    def test_delta_exits_1_on_a_must_regression(
        self, make_document: Factory, tmp_path: Path, new_outcome: str, expected: int
    ) -> None:
        """--delta writes delta.json and the page, and exits 1 only on a MUST regression."""
        old = self._write(tmp_path / "old.json", make_document([("t.py::a", "pull-1", "passed")]))
        new = self._write(
            tmp_path / "new.json", make_document([("t.py::a", "pull-1", new_outcome)])
        )
        out = tmp_path / "d" / "delta.html"
        assert cli.main(["report", "--delta", str(old), str(new), "-o", str(out)]) == expected
        data = json.loads((tmp_path / "d" / "delta.json").read_text())
        assert data["must_regressions"] == (1 if expected else 0)
        assert out.is_file()


def test_list_counts_tests_per_requirement(tiny: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """list collects the suite and counts the tests covering each requirement, also as JSON."""
    assert cli.main(["list", "tiny_a", "--suite-package", "tiny_a=tiny_a", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)["tiny_a"]
    counts = {r["id"]: r["tests"] for r in listing["requirements"]}
    assert counts == {"t-1": 2, "t-2": 1, "t-3": 1, "t-4": 0}

    assert cli.main(["list", "tiny_a", "--suite-package", "tiny_a=tiny_a"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "tiny_a: Tiny Spec v0.1 - 4 requirements, 1 without tests"
    assert lines[1].split() == ["ID", "LEVEL", "TESTS", "SECTION", "SUMMARY"]
    assert lines[2].index("MUST") == lines[1].index("LEVEL")  # columns line up
    assert lines[5].split()[:3] == ["t-4", "MAY", "0"]


@pytest.mark.slow
class TestRunEndToEnd:
    """``conformance run`` on the tiny suites, in real pytest subprocesses."""

    def test_passing_run_exits_0_with_every_output(self, tiny: Path) -> None:
        """A run where every MUST passes exits 0 and writes results, JUnit, HTML and Allure."""
        assert _run(tiny) == 0
        out = tiny / "out" / "tiny_a"
        assert _results(tiny)["summary"]["passed"] == 3
        assert _results(tiny)["target"]["name"] == "tiny-ref"
        for name in ("results.json", "junit.xml", "report.html"):
            assert (out / name).is_file(), name
        assert list((out / "allure-results").glob("*-result.json"))

    def test_must_failure_exits_1(self, tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A failing MUST test makes the run non-conformant and the exit status 1."""
        monkeypatch.setenv("TINY_BREAK", "1")
        assert _run(tiny, "-n", "2") == 1
        assert _results(tiny)["verdict"] == "non-conformant"

    def test_error_in_a_test_exits_2(self, tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A harness error inside a test makes the exit status 2."""
        monkeypatch.setenv("TINY_ERROR", "1")
        assert _run(tiny) == 2
        assert _results(tiny)["summary"]["errors"] == 1

    def test_empty_selection_gives_an_incomplete_report(self, tiny: Path) -> None:
        """A selection matching no test still writes an honest incomplete results and report."""
        assert _run(tiny, "-k", "nomatch") == 0
        document = _results(tiny)
        assert document["verdict"] == "incomplete"
        assert document["tests"] == []
        assert (tiny / "out" / "tiny_a" / "report.html").is_file()

    def test_pytest_usage_error_exits_2(
        self, tiny: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An option pytest does not know ends the run with exit 2 and says results are missing."""
        assert _run(tiny, "--no-such-option") == 2
        assert "tiny_a: HARNESS ERROR" in capsys.readouterr().err

    def test_several_suites_write_an_index(self, tiny: Path, parse_html: Any) -> None:
        """Running two suites writes both reports and an index page linking them."""
        assert _run(tiny, suites=("tiny_a", "tiny_b")) == 0
        page = parse_html((tiny / "out" / "index.html").read_text())
        links = [a.attrs["href"] for a in page.by_id("suites").find_all("a")]
        assert "tiny_a/report.html" in links
        assert "tiny_b/report.html" in links
        assert (tiny / "out" / "tiny_b" / "report.html").is_file()
