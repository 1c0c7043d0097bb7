from __future__ import annotations

import os
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Figure:
    """One benchmark figure, printed as ``name: value unit``."""

    name: str
    value: float
    unit: str
    target: str | None = None  # e.g. ">= 0.7", for the reader; misses are reported, not hidden

    def line(self) -> str:
        value = f"{self.value:.4g}" if isinstance(self.value, float) else str(self.value)
        return f"{self.name}: {value} {self.unit}".rstrip()

    def as_dict(self) -> dict:
        return asdict(self)


def load_average() -> float:
    """The machine's one-minute load average now: figures on a shared machine need it beside them."""
    return round(os.getloadavg()[0], 2)
