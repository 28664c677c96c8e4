"""The native programs the package build compiles: (source below the repo root, static, libs).

Each entry is built into ``native-bin/`` beside its source by ``setup.py``; at run time code
finds it with :func:`wire.native.ensure`, which rebuilds when the source changed.
"""

NATIVE_PROGRAMS: list[tuple[str, bool, tuple[str, ...]]] = [
    ("conformance/runtime/probe/probe.c", True, ()),
    ("reference_impl/runtime/helper/helper.c", True, ("seccomp",)),
]
