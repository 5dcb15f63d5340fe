"""schemathesis hooks of ops/contract (loaded through SCHEMATHESIS_HOOKS).

CPython 3.11 before 3.11.8 keeps the AST builder's recursion counter per
interpreter, not per thread: two threads parsing at once corrupt it and one
fails with "AST constructor recursion depth mismatch". Hypothesis parses
source to describe its strategies, so with several workers a run can die of
it. Parsing one thread at a time avoids it; nothing else changes.
"""

import ast
import threading

_lock = threading.Lock()
_parse = ast.parse


def _parse_serialized(*args, **kwargs):
    with _lock:
        return _parse(*args, **kwargs)


ast.parse = _parse_serialized
