"""Regenerate the CRI Python stubs from ``api.proto`` with grpcio-tools.

Run from anywhere: ``python -m wire.proto.cri.generate [--out DIR]``. The stubs are committed;
a unit test regenerates them into a temporary directory and checks they are identical, so the
committed files can never drift from the ``.proto``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[3]
PROTO = Path("wire/proto/cri/api.proto")
OUTPUTS = ("api_pb2.py", "api_pb2.pyi", "api_pb2_grpc.py")


def generate(out_root: Path) -> list[Path]:
    """Generate the stubs below ``out_root`` (laid out like the repository); return their paths."""
    args = [
        "grpc_tools.protoc",
        f"-I{ROOT}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        str(PROTO),
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed on {PROTO}")
    return [out_root / PROTO.parent / name for name in OUTPUTS]


def main(argv: list[str] | None = None) -> int:
    """Regenerate in place (default) or into ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write below this directory instead")
    args = parser.parse_args(argv)
    if args.out:
        generate(args.out)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        for path in generate(Path(tmp)):
            shutil.copyfile(path, ROOT / PROTO.parent / path.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
