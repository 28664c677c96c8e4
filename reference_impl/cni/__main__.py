"""``python -m reference_impl.cni <type>``: run one reference plugin."""

from __future__ import annotations

import importlib
import sys

from reference_impl.cni import PLUGINS


def main() -> None:
    """Dispatch to the plugin named by the first argument."""
    if len(sys.argv) < 2 or sys.argv[1] not in PLUGINS:
        sys.stderr.write("usage: python -m reference_impl.cni {" + ",".join(PLUGINS) + "}\n")
        sys.exit(2)
    importlib.import_module(PLUGINS[sys.argv[1]]).main()


main()
