"""Generate the Python stubs of ``csi.proto`` with grpcio-tools, reproducibly.

Usage: ``python -m wire.proto.csi.generate [--out DIR]``. The proto is compiled relative to the
repository root so the generated modules import each other as ``wire.proto.csi.csi_pb2``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[3]
PROTO = "wire/proto/csi/csi.proto"
OUTPUTS = ("csi_pb2.py", "csi_pb2_grpc.py", "csi_pb2.pyi")


class GenerationError(RuntimeError):
    """protoc rejected the .proto; the message carries its exit status."""


def generate(out_root: Path) -> list[Path]:
    """Compile ``csi.proto`` into ``out_root/wire/proto/csi/`` and return the files written.

    Args:
        out_root: the directory standing for the repository root in the output.
    """
    include = str(resources.files("grpc_tools") / "_proto")
    (out_root / "wire/proto/csi").mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"-I{ROOT}",
        f"-I{include}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        str(ROOT / PROTO),
    ]
    log.debug("running %s", " ".join(args))
    status = protoc.main(args)
    if status != 0:
        raise GenerationError(f"failed to compile {PROTO}: protoc exited with {status}")
    return [out_root / "wire/proto/csi" / name for name in OUTPUTS]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: regenerate the stubs in place (default) or under ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT, help="output root (default: repo)")
    opts = parser.parse_args(argv)
    for path in generate(opts.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
