"""Building blocks both sides need, owned by neither.

Digests, media types, image layouts, the generated gRPC stubs and the native build step live
here. A suite may use them to build its inputs, never to judge what an implementation
returned; a reference implementation may use them freely.
"""
