"""Read a Dockerfile into its instructions: enough to check what the image runs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Instruction:
    """One instruction: its keyword (upper case), its argument text, and its build stage."""

    keyword: str
    argument: str
    stage: int

    def exec_form(self) -> list[str]:
        """The JSON array of an exec-form argument (after any `--flag=...` options)."""
        start = self.argument.index("[")
        value = json.loads(self.argument[start:])
        assert isinstance(value, list)
        return [str(item) for item in value]  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]


def instructions(path: Path) -> list[Instruction]:
    """The instructions of a Dockerfile, continuation lines joined and comments dropped."""
    found: list[Instruction] = []
    stage = -1
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, argument = (pending + line).partition(" ")
        pending = ""
        if keyword.upper() == "FROM":
            stage += 1
        found.append(Instruction(keyword.upper(), argument.strip(), stage))
    return found
