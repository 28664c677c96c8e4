"""Interface definitions written from the published specifications, and their stubs."""
