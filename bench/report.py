"""What every micro-benchmark does with its figures: print them as a table and keep them in
`bench/results/` (`NAME-latest.json`, and a timestamped copy to compare runs with)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def show(figures: dict[str, Any]) -> None:
    """Print one figure per line: a number, or a `[low, high]` range."""
    width = max(len(key) for key in figures)
    for key, value in figures.items():
        if isinstance(value, list):
            shown = f"{value[0]:.2f} .. {value[1]:.2f}"
        else:
            shown = f"{value:10.2f}" if isinstance(value, float) else f"{value:>10}"
        print(f"{key:<{width}} {shown}")


def keep(name: str, document: dict[str, Any]) -> None:
    """Write `document` to `bench/results/NAME-latest.json` and a timestamped copy."""
    RESULTS.mkdir(exist_ok=True)
    text = json.dumps(document, indent=2) + "\n"
    (RESULTS / f"{name}-latest.json").write_text(text)
    (RESULTS / f"{name}-{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(text)
