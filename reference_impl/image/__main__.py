"""Entry point: ``python -m reference_impl.image``."""

import sys

from reference_impl.image.cli import main

sys.exit(main())
