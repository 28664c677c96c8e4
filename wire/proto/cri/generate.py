"""Generate the Python stubs of ``api.proto``: ``python -m wire.proto.cri.generate [--out DIR]``.

The stubs are committed; a unit test regenerates them and checks they are identical, so the
committed files can never drift from the ``.proto``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from wire.proto import compile as compiler

ROOT = compiler.ROOT
PROTO = Path("wire/proto/cri/api.proto")
OUTPUTS = compiler.outputs(str(PROTO))


def generate(out_root: Path) -> list[Path]:
    """Compile ``api.proto`` below ``out_root`` and return the files written."""
    return compiler.compile_proto(str(PROTO), out_root)


if __name__ == "__main__":
    sys.exit(compiler.main(str(PROTO)))
