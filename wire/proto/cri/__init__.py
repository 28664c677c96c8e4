"""CRI v1 (``runtime.v1``) protocol: our ``api.proto`` and its generated Python stubs."""
