"""Conformance suites for the container standards.

One pytest suite per specification, a pytest plugin that binds every test to a requirement of
its suite's catalogue, a result model (``results.json``) and the ``conformance`` command line.
"""

__version__ = "0.1.0"
