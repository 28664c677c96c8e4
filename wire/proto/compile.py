"""Compile one of the project's ``.proto`` files into Python stubs with grpcio-tools.

Each protocol package keeps a small ``generate`` module naming its ``.proto``; this is the one
place that runs protoc. The proto is compiled relative to the repository root, so generated
modules import each other by their full package path (``wire.proto.csi.csi_pb2``), and with
grpcio-tools' bundled includes, so protos that extend ``google.protobuf`` options compile.
"""

from __future__ import annotations

import argparse
import logging
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
"""The repository root the ``.proto`` paths are relative to."""


class GenerationError(RuntimeError):
    """protoc rejected the .proto; the message carries its exit status."""


def outputs(proto: str) -> tuple[str, ...]:
    """The file names protoc writes for ``proto``."""
    stem = Path(proto).stem
    return (f"{stem}_pb2.py", f"{stem}_pb2.pyi", f"{stem}_pb2_grpc.py")


def compile_proto(proto: str, out_root: Path) -> list[Path]:
    """Compile ``proto`` (relative to the repository) below ``out_root``; return the files.

    Args:
        proto: path of the ``.proto`` below the repository root.
        out_root: the directory standing for the repository root in the output.
    """
    include = str(resources.files("grpc_tools") / "_proto")
    package_dir = out_root / Path(proto).parent
    package_dir.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"-I{ROOT}",
        f"-I{include}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        str(ROOT / proto),
    ]
    log.debug("running %s", " ".join(args))
    status = protoc.main(args)
    if status != 0:
        raise GenerationError(f"failed to compile {proto}: protoc exited with {status}")
    return [package_dir / name for name in outputs(proto)]


def main(proto: str, argv: list[str] | None = None) -> int:
    """Command line of a ``generate`` module: regenerate in place, or below ``--out``."""
    parser = argparse.ArgumentParser(description=f"Generate the Python stubs of {proto}")
    parser.add_argument("--out", type=Path, default=ROOT, help="output root (default: repo)")
    opts = parser.parse_args(argv)
    for path in compile_proto(proto, opts.out):
        print(path)
    return 0
