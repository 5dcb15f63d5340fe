"""schemathesis hooks of ops/contract (loaded through SCHEMATHESIS_HOOKS).

Idempotency-Key: the fuzzer draws header values from a small space, so two
different requests could carry the same key and be answered 422 (the same
key for another request), as documented, or one case could be answered with
another's stored response. Every valid key it sends is replaced by a fresh
unique one; an invalid one (the negative phase) is left for the server to
refuse with 400.

CPython 3.11 before 3.11.8 keeps the AST builder's recursion counter per
interpreter, not per thread: two threads parsing at once corrupt it and one
fails with "AST constructor recursion depth mismatch". Hypothesis parses
source to describe its strategies, so with several workers a run can die of
it. Parsing one thread at a time avoids it; nothing else changes.
"""

import ast
import re
import threading
import uuid

import schemathesis

_lock = threading.Lock()
_parse = ast.parse


def _parse_serialized(*args, **kwargs):
    with _lock:
        return _parse(*args, **kwargs)


ast.parse = _parse_serialized


_VALID_KEY = re.compile(r"^[!-~]{1,255}$")


def _fresh_keys(headers):
    if not headers:
        return
    for name in list(headers):
        value = headers[name]
        if name.lower() == "idempotency-key" and isinstance(value, str) and _VALID_KEY.match(value):
            headers[name] = f"contract-{uuid.uuid4().hex}"


@schemathesis.hook
def before_call(ctx, case, kwargs):
    _fresh_keys(case.headers)
    _fresh_keys(kwargs.get("headers"))
