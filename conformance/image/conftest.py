"""Fixtures of the image suite: the layouts under test, their validation, the unpacker."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest

from conformance import kit
from conformance.core import ConfigurationError, skip_config
from conformance.image import target as target_mod
from conformance.image.checks import ValidatedLayout
from conformance.image.validate import validate_path
from conformance.plugin import STATE

LAYOUT_OPTIONS = ("--image-layout", "--image-producer", "--image-ref")


def _layout_keys(config: pytest.Config) -> list[str]:
    state = config.stash[STATE]
    for option, key in zip(LAYOUT_OPTIONS, ("layout", "producer", "registry"), strict=True):
        if state.option(option):
            return [key]
    if state.option("--image-unpacker"):
        return ["none"]
    return ["reference", "kit"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every layout test once per layout under test (reference and kit by default)."""
    if "validated" in metafunc.fixturenames:
        keys = _layout_keys(metafunc.config)
        metafunc.parametrize("validated", keys, indirect=True, scope="session")


@pytest.fixture(scope="session")
def image_target(conformance: Any) -> dict[str, str]:
    """Record what this run tests: the producer/layout/registry, else the unpacker, else
    the reference (its name is what deviation files are looked up by)."""
    unpacker_template = conformance.option("--image-unpacker")
    producer = conformance.option("--image-producer")
    forced = conformance.config.getoption("conformance_implementation")
    if producer:
        argv0 = shlex.split(producer)[0]
        ident = {"kind": "image-producer", "address": producer, "name": Path(argv0).name,
                 "version": target_mod.tool_version(argv0)}  # fmt: skip
    elif conformance.option("--image-layout") or conformance.option("--image-ref"):
        address = conformance.option("--image-layout") or conformance.option("--image-ref")
        ident = {"kind": "image-layout", "address": address, "name": forced or "", "version": ""}
    elif unpacker_template:
        found = target_mod.unpacker_from(unpacker_template)
        ident = {"kind": "image-unpacker", "address": unpacker_template, "name": found.name,
                 "version": found.version}  # fmt: skip
    else:
        ident = {"kind": "reference", "address": "python -m reference_impl.image",
                 "name": "reference_impl.image", "version": ""}  # fmt: skip
    conformance.record_target(
        "image", kind=ident["kind"], address=ident["address"], name=ident["name"],
        version=ident["version"], unpacker=unpacker_template or target_mod.REFERENCE_UNPACKER,
    )  # fmt: skip
    return ident


def _make_layout(key: str, conformance: Any, tmp: pytest.TempPathFactory) -> Path:
    if key == "layout":
        path = Path(conformance.option("--image-layout"))
        if not path.exists():
            raise ConfigurationError(f"--image-layout {path}: no such file or directory")
        return path
    if key == "producer":
        dest = tmp.mktemp("produced") / "layout"
        proc = target_mod.run_producer(conformance.option("--image-producer"), dest, kit.layout())
        if proc.returncode != 0:
            raise ConfigurationError(
                f"producer exited {proc.returncode}: {proc.stderr.strip()[-2000:]}"
            )
        return dest
    if key == "registry":
        return target_mod.fetch_ref(
            conformance.option("--image-ref"), tmp.mktemp("fetched") / "layout"
        )
    if key == "kit":
        return kit.layout()
    return target_mod.produce_reference(tmp.mktemp("reference") / "layout", tmp.mktemp("work"))


@pytest.fixture(scope="session")
def validated(
    request: pytest.FixtureRequest,
    conformance: Any,
    tmp_path_factory: pytest.TempPathFactory,
    image_target: dict[str, str],
) -> ValidatedLayout:
    """The validation report of one layout under test (computed once per session)."""
    key = request.param
    if key == "none":
        skip_config("no layout target given; only the unpacker is under test")
    path = _make_layout(key, conformance, tmp_path_factory)
    report = validate_path(path, docker_compat=bool(conformance.option("--image-docker-compat")))
    return ValidatedLayout(key, path, report)


@pytest.fixture(scope="session")
def unpacker(conformance: Any, image_target: dict[str, str]) -> target_mod.Unpacker:
    """The unpacker under test (the reference's when no target is given at all)."""
    template = conformance.option("--image-unpacker")
    if not template and any(conformance.option(o) for o in LAYOUT_OPTIONS):
        skip_config("a layout target was given; the unpacker tests need --image-unpacker")
    return target_mod.unpacker_from(template)
