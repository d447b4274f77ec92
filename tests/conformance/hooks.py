"""Schemathesis hooks for Kino's API (loaded through SCHEMATHESIS_HOOKS)."""

import schemathesis


@schemathesis.serializer("application/gzip")
def gzip_body(ctx, value):
    # A plugin package is bytes like any upload; schemathesis has no
    # serializer of its own for application/gzip.
    if isinstance(value, bytes):
        return {"data": value}
    return {"data": str(value).encode()}
