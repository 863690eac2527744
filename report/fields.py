"""The results JSON as the report reads it: a read-only view whose missing fields fail loudly.

`Strict(data, source, fix)` wraps a results dict. `r["a"]["b"]` returns the value (dicts and lists
wrapped again); a missing key or index raises `MissingField`, whose one line names the file, the
dotted path of the field and the command that rewrites the file. `in`, `len`, iteration, `.items()`
and `.raw` (the plain data, for numpy) work as on the plain value; `.get` does not exist, so no
default can hide a renamed field.

Inside `with recording() as reads:`, every value read through a view that is not itself wrapped (a
number, a string, a boolean, None), every `.raw` taken and every list's `len` (its
length, as an int) is appended to `reads` as a
`Read(source, path, value)`, with list indices written `[]`: `intermediate[].dL_dh`.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, NamedTuple

from common.core.cli import UserError


class MissingField(UserError):
    """A field that the report reads is not in the results file."""


class Read(NamedTuple):
    """One value read through a view: the file, the path with list indices as `[]`, the value."""

    source: str
    path: str
    value: Any


_READS: ContextVar[list[Read] | None] = ContextVar("reads", default=None)


@contextmanager
def recording() -> Iterator[list[Read]]:
    """Collect a Read for each leaf value and each `.raw` taken through any view inside the block."""
    reads: list[Read] = []
    token = _READS.set(reads)
    try:
        yield reads
    finally:
        _READS.reset(token)


def _record(source: str, path: str, value: Any) -> None:
    reads = _READS.get()
    if reads is not None:
        reads.append(Read(source, re.sub(r"\[\d+\]", "[]", path), value))


class _View:
    __slots__ = ("_raw", "source", "path", "fix")

    def __init__(self, raw: Any, source: str, fix: str, path: str = "") -> None:
        self._raw, self.source, self.fix, self.path = raw, source, fix, path

    @property
    def raw(self) -> Any:
        """The plain data under this view."""
        _record(self.source, self.path, self._raw)
        return self._raw

    def _child(self, key: Any) -> str:
        return f"{self.path}[{key}]" if isinstance(key, int) else f"{self.path}.{key}" if self.path else str(key)

    def _missing(self, key: Any) -> MissingField:
        return MissingField(f"{self.source} has no field '{self._child(key)}': rerun `{self.fix}`")

    def _wrap(self, value: Any, key: Any) -> Any:
        if not isinstance(value, (dict, list)):
            _record(self.source, self._child(key), value)
        return wrap(value, self.source, self.fix, self._child(key))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source}:{self.path or '.'})"


class StrictDict(_View, Mapping):
    """A JSON object whose missing keys raise MissingField."""

    def __getitem__(self, key: str) -> Any:
        try:
            value = self._raw[key]
        except KeyError:
            raise self._missing(key) from None
        return self._wrap(value, key)

    def __contains__(self, key: object) -> bool:
        return key in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def get(self, key: str, default: Any = None) -> Any:
        raise TypeError(f"{self.source}: test for '{self._child(key)}' with 'in'; defaults hide "
                        "renamed fields")


class StrictList(_View, Sequence):
    """A JSON array whose missing indices raise MissingField."""

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self._raw)))]
        try:
            value = self._raw[index]
        except IndexError:
            raise self._missing(index) from None
        return self._wrap(value, index)

    def __iter__(self) -> Iterator[Any]:
        return (self._wrap(value, i) for i, value in enumerate(self._raw))

    def __len__(self) -> int:
        _record(self.source, self.path, len(self._raw))  # a length or an emptiness the words rest on
        return len(self._raw)


def wrap(value: Any, source: str, fix: str, path: str = "") -> Any:
    """`value` as a strict view if it is a dict or a list; other values as they are."""
    if isinstance(value, dict):
        return StrictDict(value, source, fix, path)
    if isinstance(value, list):
        return StrictList(value, source, fix, path)
    return value


def Strict(data: dict, source: str, fix: str) -> StrictDict:
    """A results dict as a strict view; `source` names the file, `fix` the command that rewrites it."""
    return StrictDict(data, source, fix)


def load(path: Path, fix: str, kind: type = dict) -> Any | None:
    """The JSON value in `path` wrapped strictly, or None when the file does not exist yet.

    A file that exists but is not valid JSON of the expected kind (a run cut short, a full disk)
    raises a UserError naming the file and the command that rewrites it."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"{path} is not a readable JSON file ({type(exc).__name__}): rerun `{fix}`") from None
    if not isinstance(data, kind):
        raise UserError(f"{path} holds a JSON {type(data).__name__}, not a {kind.__name__}: rerun `{fix}`")
    return wrap(data, str(path), fix)
