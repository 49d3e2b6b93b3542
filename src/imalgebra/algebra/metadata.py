"""An immutable, hashable, picklable ``str -> str`` mapping for image metadata.

DICOM tags use the ``"gggg|eeee"`` keys SimpleITK uses.

Example
-------
>>> m = Metadata({"0008|0060": "CT"})
>>> m["0008|0060"], len(m), m.updated({"k": "v"})["k"]
('CT', 1, 'v')
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from imalgebra.errors import PixelTypeError

__all__ = ["Metadata"]


class Metadata(Mapping[str, str]):
    """Frozen metadata; ``updated`` and ``without`` return new mappings."""

    __slots__ = ("_data", "_hash")

    def __init__(self, data: Mapping[str, str] | None = None) -> None:
        items = dict(data or {})
        for key, value in items.items():
            if not isinstance(key, str) or not isinstance(value, str):
                msg = (
                    f"metadata must map str to str; {key!r}: {value!r} is "
                    f"{type(key).__name__} -> {type(value).__name__} (convert it with str())"
                )
                raise PixelTypeError(msg)
        self._data = dict(sorted(items.items()))
        self._hash: int | None = None

    def __getitem__(self, key: str) -> str:
        try:
            return self._data[key]
        except KeyError:
            known = ", ".join(list(self._data)[:10]) or "none"
            msg = f"metadata has no key {key!r} (keys: {known})"
            raise KeyError(msg) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(tuple(self._data.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self._data == dict(other)
        return NotImplemented

    def __reduce__(self) -> tuple[Any, ...]:
        return (Metadata, (self._data,))

    def updated(self, data: Mapping[str, str]) -> Metadata:
        return Metadata({**self._data, **data})

    def without(self, *keys: str) -> Metadata:
        return Metadata({k: v for k, v in self._data.items() if k not in keys})

    def __repr__(self) -> str:
        return f"Metadata({self._data!r})"
