"""The pytest plugin, driven through pytester with a made-up catalogue and made-up tests."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from conformance.core import results

CONFTEST = """
from conformance.core.catalogue import Catalogue, Level, Requirement

CATALOGUE = Catalogue(
    suite="mock",
    spec_name="Mock Spec",
    spec_version="v0.1",
    base_url="https://example.org/mock/blob/v0.1",
    requirements=(
        Requirement("m-1", Level.MUST, "Basics", "must thing", "spec.md#m1"),
        Requirement("m-2", Level.MUST, "Basics", "another must thing", "spec.md#m2"),
        Requirement("s-1", Level.SHOULD, "Extras", "should thing", "spec.md#s1"),
        Requirement("y-1", Level.MAY, "Extras", "may thing", "spec.md#y1"),
    ),
    package="test_mock",
)


def pytest_conformance_catalogues(config):
    return [CATALOGUE]
"""

OUTCOMES_MODULE = """
import pytest
from conformance.core import (
    HarnessError, Violation, check, not_applicable, skip_capability, skip_config, skip_host,
)


@pytest.fixture
def broken_fixture():
    raise RuntimeError("fixture could not set up")


@pytest.mark.requirement("m-1")
def test_passes():
    pass


@pytest.mark.requirement("m-1")
def test_violation():
    raise Violation("/v2/<name>/blobs", "404", 200, "https://example.org/mock#m1")


@pytest.mark.requirement("m-2")
def test_plain_assert():
    assert 1 + 1 == 3


@pytest.mark.requirement("s-1")
def test_should_missed():
    check(False, "header Docker-Content-Digest", "present", "absent")


@pytest.mark.requirement("y-1")
def test_skip_capability():
    skip_capability("chunked upload")


@pytest.mark.requirement("y-1")
def test_skip_host():
    skip_host("no cgroup v2")


@pytest.mark.requirement("y-1")
def test_skip_config():
    skip_config("pushing disabled")


@pytest.mark.requirement("y-1")
def test_skip_plain():
    pytest.skip("just because")


@pytest.mark.requirement("y-1")
def test_not_applicable():
    not_applicable("DELETE answered 405, which is allowed")


@pytest.mark.requirement("m-2")
def test_setup_error(broken_fixture):
    pass


@pytest.mark.requirement("m-2")
def test_unexpected_exception():
    {}["missing"]


@pytest.mark.requirement("m-2")
def test_harness_error():
    raise HarnessError("could not start the reference")
"""


def _write_suite(pytester: pytest.Pytester, module: str, name: str = "test_mock") -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(**{name: textwrap.dedent(module)})


def _results(pytester: pytest.Pytester, suite: str = "mock") -> dict[str, Any]:
    return results.load(Path(pytester.path) / "out" / suite / "results.json")


def _by_test(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["nodeid"].rpartition("::")[2]: t for t in document["tests"]}


# pytester restores sys.modules after each in-process run, so the hypothesis plugin would
# import hypothesis afresh every time (over a second each); the made-up suites do not use it.
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("--report-dir", "out", *QUIET, *args)


def _run_once(directory: Path, module: str, *args: str) -> dict[str, Any]:
    """Run a made-up suite in a pytest subprocess; for fixtures shared by a whole class."""
    (directory / "conftest.py").write_text(CONFTEST)
    (directory / "test_mock.py").write_text(textwrap.dedent(module))
    cmd = [sys.executable, "-m", "pytest", *QUIET, "--report-dir", "out"]
    subprocess.run([*cmd, *args], cwd=directory, capture_output=True, check=False, timeout=120)
    return results.load(directory / "out" / "mock" / "results.json")


@pytest.fixture(scope="module")
def outcomes_document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The results of one run of OUTCOMES_MODULE, shared by its tests."""
    return _run_once(tmp_path_factory.mktemp("outcomes"), OUTCOMES_MODULE)


class TestOutcomes:
    """Each way a test can end maps to its conformance outcome."""

    @pytest.fixture
    def document(self, outcomes_document: dict[str, Any]) -> dict[str, Any]:
        return outcomes_document

    def test_passing_test_is_passed(self, document: dict[str, Any]) -> None:
        """A test that raises nothing passes."""
        assert _by_test(document)["test_passes"]["outcome"] == "passed"

    def test_violation_of_must_is_failed_with_finding(self, document: dict[str, Any]) -> None:
        """A Violation of a MUST fails and keeps where / expected / got / reference."""
        test = _by_test(document)["test_violation"]
        assert test["outcome"] == "failed"
        assert test["finding"] == {
            "where": "/v2/<name>/blobs",
            "expected": "404",
            "got": "200",
            "reference": "https://example.org/mock#m1",
        }

    def test_plain_assert_is_failed(self, document: dict[str, Any]) -> None:
        """A bare assert in a MUST test counts as a failure of the implementation."""
        test = _by_test(document)["test_plain_assert"]
        assert test["outcome"] == "failed"
        assert "assert" in test["message"]

    def test_should_miss_below_level_is_warning(self, document: dict[str, Any]) -> None:
        """A SHOULD miss at level MUST is a warning with its finding, not a failure."""
        test = _by_test(document)["test_should_missed"]
        assert test["outcome"] == "warning"
        assert test["finding"]["where"] == "header Docker-Content-Digest"
        assert test["finding"]["reference"] == "https://example.org/mock/blob/v0.1/spec.md#s1"

    @pytest.mark.parametrize(
        ("name", "category"),
        [
            ("test_skip_capability", "capability"),
            ("test_skip_host", "host"),
            ("test_skip_config", "config"),
            ("test_skip_plain", "other"),
        ],
    )
    def test_skips_carry_their_category(
        self, document: dict[str, Any], name: str, category: str
    ) -> None:
        """Every skip is recorded with the category its helper names."""
        test = _by_test(document)[name]
        assert (test["outcome"], test["skip_category"]) == ("skipped", category)
        assert test["message"]

    def test_not_applicable_is_its_own_outcome(self, document: dict[str, Any]) -> None:
        """not_applicable() ends as not-applicable with its reason."""
        test = _by_test(document)["test_not_applicable"]
        assert test["outcome"] == "not-applicable"
        assert "405" in test["message"]

    @pytest.mark.parametrize(
        "name", ["test_setup_error", "test_unexpected_exception", "test_harness_error"]
    )
    def test_harness_side_problems_are_errors(self, document: dict[str, Any], name: str) -> None:
        """Setup failures, unexpected exceptions and HarnessError are errors, not failures."""
        test = _by_test(document)[name]
        assert test["outcome"] == "error"
        assert test["finding"] is None

    def test_summary_counts_every_outcome(self, document: dict[str, Any]) -> None:
        """The summary counts equal the records, and the document validates."""
        counts = {k: document["summary"][k] for k in ("passed", "failed", "warnings")}
        assert counts == {"passed": 1, "failed": 2, "warnings": 1}
        assert document["summary"]["skipped"] == 4
        assert document["summary"]["not_applicable"] == 1
        assert document["summary"]["errors"] == 3
        assert document["summary"]["total"] == len(document["tests"]) == 12
        results.validate(document)

    def test_requirement_rows_fold_outcomes_and_link(self, document: dict[str, Any]) -> None:
        """Each requirement row lists its tests and links to the versioned spec."""
        rows = {r["id"]: r for r in document["requirements"]}
        assert rows["m-1"]["outcome"] == "failed"
        assert rows["m-1"]["link"] == "https://example.org/mock/blob/v0.1/spec.md#m1"
        assert len(rows["m-2"]["tests"]) == 4
        assert rows["m-2"]["outcome"] == "error"


def test_should_miss_at_level_should_is_failed(pytester: pytest.Pytester) -> None:
    """With --level should, a SHOULD miss fails and the verdict is non-conformant."""
    _write_suite(
        pytester,
        """
        import pytest

        @pytest.mark.requirement("s-1")
        def test_should():
            assert False, "no digest header"
        """,
    )
    result = _run(pytester, "--level", "should")
    document = _results(pytester)
    assert _by_test(document)["test_should"]["outcome"] == "failed"
    assert document["verdict"] == "non-conformant"
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_known_deviation_from_yaml(pytester: pytest.Pytester) -> None:
    """A declared failure becomes known-deviation; a declared one that passes is flagged stale."""
    _write_suite(
        pytester,
        """
        import pytest

        @pytest.mark.requirement("m-1")
        def test_declared():
            assert False

        @pytest.mark.requirement("m-2")
        def test_undeclared():
            assert False

        @pytest.mark.requirement("m-1")
        def test_declared_but_passing():
            pass
        """,
    )
    pytester.path.joinpath("devs.yaml").write_text(
        "implementation: acme\n"
        "deviations:\n"
        "  - requirement: m-1\n"
        "    reason: acme answers 200 here\n"
        "    upstream: https://example.org/acme/issues/1\n"
    )
    _run(pytester, "--deviations", "devs.yaml", "--implementation", "acme")
    tests = _by_test(_results(pytester))
    assert tests["test_declared"]["outcome"] == "known-deviation"
    assert tests["test_declared"]["deviation"]["upstream"] == "https://example.org/acme/issues/1"
    assert tests["test_undeclared"]["outcome"] == "failed"
    assert _results(pytester)["verdict"] == "non-conformant"
    stale = tests["test_declared_but_passing"]
    assert stale["outcome"] == "passed"
    assert stale["deviation"]["reason"] == "acme answers 200 here"
    assert "did not occur" in stale["message"]


def test_missing_requirement_marker_is_usage_error(pytester: pytest.Pytester) -> None:
    """A suite test without a requirement marker stops the run at collection."""
    _write_suite(pytester, "def test_unmarked():\n    pass\n")
    result = _run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_unmarked: no @pytest.mark.requirement*"])


def test_unknown_requirement_id_is_usage_error(pytester: pytest.Pytester) -> None:
    """A requirement id the catalogue does not know stops the run at collection."""
    _write_suite(
        pytester,
        "import pytest\n\n@pytest.mark.requirement('nope-9')\ndef test_x():\n    pass\n",
    )
    result = _run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*not in the 'mock' catalogue: nope-9*"])


def test_hung_test_fails_by_timeout(pytester: pytest.Pytester) -> None:
    """A test that hangs is stopped by the per-test timeout and counted as failed."""
    _write_suite(
        pytester,
        """
        import threading
        import pytest

        @pytest.mark.requirement("m-1")
        def test_hangs():
            threading.Event().wait(60)
        """,
    )
    result = _run(pytester, "--test-timeout", "1")
    test = _by_test(_results(pytester))["test_hangs"]
    assert test["outcome"] == "failed"
    assert "Timeout" in test["message"]
    assert test["duration"] < 30
    assert result.ret == pytest.ExitCode.TESTS_FAILED


EVIDENCE_MODULE = """
import pytest
from conformance.core import current_evidence

SECRET = "s3cr3t-t0ken-value"
BIG = "x" * 10000


def _exchange():
    current_evidence().http(
        "GET", "http://127.0.0.1:1/v2/",
        request_headers={"Authorization": "Bearer " + SECRET, "Accept": "*/*"},
        status=401,
        response_headers={"Www-Authenticate": "Bearer realm=x"},
        response_body=BIG,
    )
    current_evidence().command(
        ["tool", "--password", SECRET], returncode=1, stdout="token: Bearer " + SECRET,
        env={"REGISTRY_PASSWORD": SECRET, "HOME": "/root"},
    )
    current_evidence().rpc("CreateVolume", {"name": "v", "secrets": {"key": SECRET}})


@pytest.mark.requirement("m-1")
def test_passing_with_evidence():
    _exchange()


@pytest.mark.requirement("m-2")
def test_failing_with_evidence(evidence):
    _exchange()
    evidence.note("seen state", answer=42)
    assert False
"""


@pytest.fixture(scope="module")
def evidence_document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The results of one run of EVIDENCE_MODULE, shared by its tests."""
    return _run_once(tmp_path_factory.mktemp("evidence"), EVIDENCE_MODULE)


class TestEvidence:
    """Evidence is kept with each record, redacted, and cut for passing tests."""

    @pytest.fixture
    def document(self, evidence_document: dict[str, Any]) -> dict[str, Any]:
        return evidence_document

    def test_secrets_never_reach_the_results(self, document: dict[str, Any]) -> None:
        """Credentials in headers, argv, env, RPC payloads and Bearer strings are redacted."""
        text = json.dumps(document)
        assert "s3cr3t-t0ken-value" not in text
        assert "[redacted]" in text

    def test_failing_test_keeps_every_exchange_in_full(self, document: dict[str, Any]) -> None:
        """A failure keeps all its evidence entries and the whole response body."""
        evidence = _by_test(document)["test_failing_with_evidence"]["evidence"]
        assert [e["kind"] for e in evidence] == ["http", "command", "rpc", "note"]
        assert len(evidence[0]["response_body"]) == 10000
        assert evidence[0]["request_headers"]["Accept"] == "*/*"
        assert evidence[1]["env"]["HOME"] == "/root"
        assert evidence[3]["data"] == {"answer": 42}

    def test_passing_test_evidence_is_truncated(self, document: dict[str, Any]) -> None:
        """A passing test keeps its exchanges, but long bodies are cut short with a marker."""
        evidence = _by_test(document)["test_passing_with_evidence"]["evidence"]
        body = evidence[0]["response_body"]
        assert 2048 <= len(body) < 2200
        assert "more characters cut" in body


XDIST_MODULE = """
import pytest


@pytest.fixture(scope="session")
def target(conformance):
    conformance.record_target(
        "mock", kind="registry", address="http://127.0.0.1:9", name="mockreg", version="9.9"
    )


@pytest.mark.parametrize("n", range(12))
@pytest.mark.requirement("m-1")
def test_many(target, n):
    assert n % 5 != 4


@pytest.mark.requirement("y-1")
def test_skips(target):
    pytest.skip("nothing to see")
"""


def _outcomes(document: dict[str, Any]) -> dict[str, str]:
    return {t["nodeid"]: t["outcome"] for t in document["tests"]}


@pytest.mark.slow
def test_xdist_run_merges_the_same_records_as_a_serial_run(pytester: pytest.Pytester) -> None:
    """Under -n 2 every record reaches the controller, equal to a serial run, target included."""
    _write_suite(pytester, XDIST_MODULE)
    pytester.runpytest_subprocess("--report-dir", "serial", *QUIET)
    pytester.runpytest_subprocess("--report-dir", "parallel", *QUIET, "-n", "2")
    serial = results.load(Path(pytester.path) / "serial" / "mock" / "results.json")
    parallel = results.load(Path(pytester.path) / "parallel" / "mock" / "results.json")

    assert len(serial["tests"]) == 13
    assert _outcomes(parallel) == _outcomes(serial)
    assert parallel["summary"] == serial["summary"]
    assert parallel["target"]["name"] == "mockreg"
    assert parallel["target"]["version"] == "9.9"


class TestVerdict:
    """Every verdict is reachable through a real run."""

    def _verdict(self, pytester: pytest.Pytester, body: str, *args: str) -> dict[str, Any]:
        _write_suite(pytester, "import pytest\nfrom conformance.core import skip_host\n" + body)
        _run(pytester, *args)
        return _results(pytester)

    ALL = "".join(
        f"\n@pytest.mark.requirement('{rid}')\ndef test_{rid.replace('-', '_')}():\n    pass\n"
        for rid in ("m-1", "m-2", "s-1", "y-1")
    )

    def test_all_passing_is_conformant(self, pytester: pytest.Pytester) -> None:
        """Every requirement tested and passed: conformant with no reasons."""
        document = self._verdict(pytester, self.ALL)
        assert (document["verdict"], document["verdict_reasons"]) == ("conformant", [])

    def test_should_miss_is_conformant_with_warnings(self, pytester: pytest.Pytester) -> None:
        """A SHOULD miss below the level gives conformant-with-warnings."""
        body = self.ALL.replace("def test_s_1():\n    pass", "def test_s_1():\n    assert 0")
        document = self._verdict(pytester, body)
        assert document["verdict"] == "conformant-with-warnings"

    def test_must_failure_is_non_conformant(self, pytester: pytest.Pytester) -> None:
        """A MUST failure gives non-conformant."""
        body = self.ALL.replace("def test_m_1():\n    pass", "def test_m_1():\n    assert 0")
        assert self._verdict(pytester, body)["verdict"] == "non-conformant"

    def test_host_skip_of_must_is_incomplete(self, pytester: pytest.Pytester) -> None:
        """A MUST test skipped for a host reason cannot certify: incomplete."""
        body = self.ALL.replace("def test_m_1():\n    pass", "def test_m_1():\n    skip_host('x')")
        document = self._verdict(pytester, body)
        assert document["verdict"] == "incomplete"
        assert any("skipped for host or config" in r for r in document["verdict_reasons"])

    def test_untested_must_requirement_is_incomplete(self, pytester: pytest.Pytester) -> None:
        """A MUST requirement without a test in the run gives incomplete."""
        document = self._verdict(pytester, self.ALL, "-k", "not m_2")
        assert document["verdict"] == "incomplete"
        assert {r["id"]: r["outcome"] for r in document["requirements"]}["m-2"] == "untested"

    def test_error_is_incomplete(self, pytester: pytest.Pytester) -> None:
        """A harness error makes the run incomplete, not non-conformant."""
        body = self.ALL.replace("def test_m_1():\n    pass", "def test_m_1():\n    1 / 0")
        assert self._verdict(pytester, body)["verdict"] == "incomplete"

    def test_empty_selection_writes_incomplete_results(self, pytester: pytest.Pytester) -> None:
        """A run selecting no test still writes honest results for a named suite."""
        _write_suite(pytester, "import pytest\n" + self.ALL)
        result = _run(pytester, "--conformance-suite", "mock", "-k", "nomatch")
        assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
        document = _results(pytester)
        assert document["verdict"] == "incomplete"
        assert "no test ran" in document["verdict_reasons"]
        assert document["tests"] == []
        assert (Path(pytester.path) / "out" / "mock" / "report.html").is_file()
        assert (Path(pytester.path) / "out" / "mock" / "junit.xml").is_file()


def test_terminal_summary_names_the_verdict(pytester: pytest.Pytester) -> None:
    """The terminal summary prints the suite's verdict and counts."""
    _write_suite(
        pytester, "import pytest\n@pytest.mark.requirement('m-1')\ndef test_a():\n    pass\n"
    )
    result = _run(pytester)
    result.stdout.fnmatch_lines(["*mock: INCOMPLETE at level MUST - 1 passed, 0 failed*"])
    assert json.loads((Path(pytester.path) / "out" / "mock" / "results.json").read_text())


def test_interrupted_test_is_an_error_not_a_pass(pytester: pytest.Pytester) -> None:
    """A test cut short by Ctrl-C is recorded as an error, so the run cannot look conformant."""
    _write_suite(
        pytester,
        """
        import pytest

        @pytest.mark.requirement("m-1")
        def test_done():
            pass

        @pytest.mark.requirement("m-2")
        def test_interrupted():
            raise KeyboardInterrupt
        """,
    )
    # no_reraise_ctrlc: the inner run's interrupt must not stop this outer session.
    result = pytester.runpytest("--report-dir", "out", *QUIET, no_reraise_ctrlc=True)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    document = _results(pytester)
    tests = _by_test(document)
    assert tests["test_done"]["outcome"] == "passed"
    assert tests["test_interrupted"]["outcome"] == "error"
    assert "interrupted" in tests["test_interrupted"]["message"]
    assert document["verdict"] == "incomplete"
