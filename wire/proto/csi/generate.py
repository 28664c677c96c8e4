"""Generate the Python stubs of ``csi.proto``: ``python -m wire.proto.csi.generate [--out DIR]``.

The stubs are committed; a unit test regenerates them and checks they are identical.
"""

from __future__ import annotations

import sys
from pathlib import Path

from wire.proto import compile as compiler

ROOT = compiler.ROOT
PROTO = "wire/proto/csi/csi.proto"
OUTPUTS = compiler.outputs(PROTO)


def generate(out_root: Path) -> list[Path]:
    """Compile ``csi.proto`` below ``out_root`` and return the files written."""
    return compiler.compile_proto(PROTO, out_root)


if __name__ == "__main__":
    sys.exit(compiler.main(PROTO))
