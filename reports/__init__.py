"""Renderers of ``results.json``: the HTML report, the comparison matrix, deltas, JUnit XML."""
