"""The HTML report in a real headless Chromium: it renders, its counts and filters work."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reports import html, matrix, model

pytestmark = pytest.mark.system

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

ROWS = [
    ("t.py::test_fetch", "pull-1", "passed"),
    ("t.py::test_fetch_head", "pull-1", "failed"),
    ("t.py::test_missing", "pull-2", "passed"),
    ("t.py::test_chunked", "push-1", "warning"),
    ("t.py::test_mount", "push-2", "skipped"),
    ("t.py::test_broken", "pull-2", "error"),
]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A headless Chromium driven by the Debian chromedriver, closed afterwards."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("chromium and chromium-driver are not installed (apt-get install them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def document(make_document: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """A run with failures, a warning, a skip, an error and an untested requirement."""
    return make_document(ROWS, extra={"t.py::test_fetch_head": {"message": "<b>not bold</b>"}})


def _open(browser: Any, path: Path) -> None:
    browser.get(path.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"


def _visible(browser: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return [e for e in browser.find_elements(By.CSS_SELECTOR, selector) if e.is_displayed()]


def _select(browser: Any, element_id: str, value: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element(By.ID, element_id)).select_by_value(value)


def test_report_renders_with_the_json_counts(
    browser: Any, document: dict[str, Any], tmp_path: Path
) -> None:
    """The page renders its verdict and shows the same counts as results.json."""
    from selenium.webdriver.common.by import By

    path = tmp_path / "report.html"
    html.write_report([document], path)
    _open(browser, path)

    assert browser.find_element(By.ID, "verdict").text.lower() == document["verdict"]
    for outcome, key in model.COUNT_KEY.items():
        cell = browser.find_element(By.CSS_SELECTOR, f"#counts td[data-outcome='{outcome}']")
        assert int(cell.text) == document["summary"][key], outcome
    rows = _visible(browser, "#traceability tr.requirement")
    assert len(rows) == len(document["requirements"])
    assert "<b>not bold</b>" in browser.find_element(By.TAG_NAME, "body").text


def test_filters_hide_rows(browser: Any, document: dict[str, Any], tmp_path: Path) -> None:
    """Choosing an outcome or a level, or typing text, hides the rows that do not match."""
    from selenium.webdriver.common.by import By

    path = tmp_path / "report.html"
    html.write_report([document], path)
    _open(browser, path)
    assert len(_visible(browser, "#tests tr.test")) == len(ROWS)

    _select(browser, "filter-outcome", "failed")
    assert [r.get_attribute("data-outcome") for r in _visible(browser, "#tests tr.test")] == [
        "failed"
    ]
    assert [
        r.get_attribute("data-id") for r in _visible(browser, "#traceability tr.requirement")
    ] == ["pull-1"]

    _select(browser, "filter-outcome", "")
    _select(browser, "filter-level", "SHOULD")
    levels = {r.get_attribute("data-level") for r in _visible(browser, "tr.filterable")}
    assert levels == {"SHOULD"}

    _select(browser, "filter-level", "")
    browser.find_element(By.ID, "filter-text").send_keys("test_missing")
    shown = _visible(browser, "#tests tr.test")
    assert len(shown) == 1
    assert "test_missing" in shown[0].text


def test_matrix_disagreements_only(
    browser: Any, make_document: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    """Ticking "disagreements only" leaves only the rows where implementations differ."""
    from selenium.webdriver.common.by import By

    reference = make_document(
        [("t.py::a", "pull-1", "passed"), ("t.py::b", "pull-2", "passed")],
        target={"kind": "reference", "address": "", "name": "ref", "version": "1"},
    )
    vendor = make_document([("t.py::a", "pull-1", "passed"), ("t.py::b", "pull-2", "failed")])
    path = tmp_path / "matrix.html"
    matrix.write_all(matrix.build([vendor, reference]), path)
    _open(browser, path)
    assert len(_visible(browser, "#matrix tr.requirement")) == len(reference["requirements"])

    browser.find_element(By.ID, "filter-disagree").click()
    shown = _visible(browser, "#matrix tr.requirement")
    assert [r.get_attribute("data-id") for r in shown] == ["pull-2"]
    header = browser.find_elements(By.CSS_SELECTOR, "#matrix th.column")[0].text
    assert header.startswith("ref@1")
