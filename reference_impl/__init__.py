"""Minimal but real reference implementations, one per specification."""
