"""Plain aligned text tables that fit a terminal width (no third-party table library)."""

from __future__ import annotations

from dataclasses import dataclass

GAP = "  "


@dataclass
class Column:
    """A header and one cell per row; numbers align right (``align=">"``), text left."""

    header: str
    cells: list[str]
    align: str = "<"

    @property
    def width(self) -> int:
        return max([len(self.header), *(len(cell) for cell in self.cells)])


def table_width(columns: list[Column]) -> int:
    return sum(column.width for column in columns) + len(GAP) * max(len(columns) - 1, 0)


def render(columns: list[Column]) -> list[str]:
    """Header line and one line per row, trailing spaces stripped."""
    if not columns:
        return []
    rows = len(columns[0].cells)
    lines = []
    for row in range(-1, rows):
        cells = []
        for column in columns:
            text = column.header if row < 0 else column.cells[row]
            cells.append(f"{text:{column.align}{column.width}}")
        lines.append(GAP.join(cells).rstrip())
    return lines


def fit_columns(
    before: list[Column], optional: list[Column], after: list[Column], max_width: int
) -> tuple[list[Column], list[Column]]:
    """``before + (as many optional as fit, in order) + after``, and the optional ones left out."""
    shown: list[Column] = []
    dropped: list[Column] = []
    for column in optional:
        if not dropped and table_width([*before, *shown, column, *after]) <= max_width:
            shown.append(column)
        else:
            dropped.append(column)
    return [*before, *shown, *after], dropped
