"""``python -m reference_impl.runtime``: the runc-compatible CLI."""

import sys

from .cli import main

sys.exit(main())
