"""The reference OCI image tooling: build, unpack safely, convert a config to a bundle.

Run it as ``python -m reference_impl.image`` (see :mod:`reference_impl.image.cli`).
"""
