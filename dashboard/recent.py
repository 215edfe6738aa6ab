"""A bounded memory of recently seen keys, oldest forgotten first. Pure."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")


class Recent(Generic[V]):
    """The last ``size`` keys added, each with a value; adding one more forgets the oldest.

    Memory is bounded whatever the rate: at 1,000 messages a second, 65,536 keys remember
    a message for about a minute; the grid's, with what it keeps of each, take about 21 MB
    (benchmarks/README.md, "Live view").
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[str, V] = OrderedDict()

    def add(self, key: str, value: V) -> bool:
        """Remember ``key``; False (and nothing changed) if it is already remembered."""
        if key in self._items:
            return False
        self._items[key] = value
        if len(self._items) > self._size:
            self._items.popitem(last=False)
        return True

    def get(self, key: str) -> V | None:
        return self._items.get(key)

    def pop(self, key: str) -> V | None:
        return self._items.pop(key, None)

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)
