"""The OCI image suite: layout validation (any producer) and unpacker tests."""
