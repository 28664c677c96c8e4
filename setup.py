"""Package build step: compile the native programs listed in wire/native_programs.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def _load(name: str, path: Path):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildWithNative(build_py):
    """Compile the C programs before the Python files are collected, so native-bin/ ships."""

    def run(self) -> None:
        native = _load("_native", ROOT / "wire" / "native.py")
        programs = _load("_programs", ROOT / "wire" / "native_programs.py")
        for source, static, libs in programs.NATIVE_PROGRAMS:
            native.prebuild(ROOT / source, static=static, libs=tuple(libs))
        super().run()


setup(cmdclass={"build_py": BuildWithNative})
