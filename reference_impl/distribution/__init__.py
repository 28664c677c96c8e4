"""The bundled reference registry: a small, real OCI Distribution Spec v1.1.1 registry.

Start it with one command::

    python -m reference_impl.distribution --root DIR --listen 127.0.0.1:5000 [--auth-config F]

Why Starlette on uvicorn: the registry is an HTTP API whose bodies can be gigabytes, so it
needs request streaming (blobs go to disk chunk by chunk, never whole into memory), file
responses with ``Range`` support, and concurrent clients without a thread per connection.
Starlette is the small, well-kept ASGI toolkit that gives exactly that (``Request.stream()``,
``FileResponse`` with ranges, exception handlers for one error mapping) without a framework's
weight; uvicorn is the reference ASGI server (h11/httptools, graceful shutdown on SIGTERM).
Both are maintained by the Encode team and used widely in production, and neither hides the
HTTP exchange the spec is written in terms of.

Modules: :mod:`.storage` (content-addressed, crash-safe files), :mod:`.manifests` (push
validation), :mod:`.auth` (basic and bearer-token auth), :mod:`.errors` (the one mapping to the
spec's error bodies), :mod:`.app` (the endpoints), :mod:`.__main__` (the command line).
"""
