"""``python -m reference_impl.runtime``: the runc-compatible CLI."""

from .cli import exit_main

exit_main()
