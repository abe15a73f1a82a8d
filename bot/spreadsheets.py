"""The product's XLSX conventions, shared by the 台账 and the registers (诉求, 重点项目, 涉企检查).

A sheet is a row of bold, centred, blue-filled headers over its data rows, frozen below the header
(and right of the first column, or of more). Each column has a width and a kind that says how its
cells look: text, long text (wrapped), an Excel time or date, 万元 (a number with two decimals),
a rate (a percentage), or a colour label (绿 白 黄 红 …, filled with its colour; a column whose
header is itself such a label is filled in the header). Times are naive Beijing time, as Excel has
no time zones; amounts are numbers in 万元 so a sheet can add them up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from bot.clock import as_utc, local

HEADER_FILL = "DDEBF7"  # the header blue
FORMATS = {
    "time": "yyyy-mm-dd hh:mm",
    "date": "yyyy-mm-dd",
    "wan": "#,##0.00",  # 万元, two decimals
    "rate": "0.0%",
}
Target = Path | str | IO[bytes]  # a file's path, or a stream such as BytesIO


@dataclass(frozen=True)
class Col:
    """A column: its header, width and kind (text, long text, time, date, 万元, rate, or a colour label)."""

    title: str
    width: float
    kind: str = "text"


@dataclass(frozen=True)
class Sheet:
    """One sheet: its name, columns, rows (cells in the columns' order), and where its panes freeze."""

    title: str
    columns: tuple[Col, ...]
    rows: list[list[Any]]
    freeze: str = "B2"  # the header row and the first column stay in view


def excel_time(at: datetime | None) -> datetime | None:
    """An instant as a naive Beijing-time datetime (Excel has no time zones); None stays empty."""
    return None if at is None else local(as_utc(at)).replace(tzinfo=None)


def wan(yuan: int | None) -> float | None:
    """Whole 元 as 万元 with two decimals (a number, so the sheet can add it up); None stays empty."""
    return None if yuan is None else round(yuan / 10_000, 2)


def new_book() -> Workbook:
    """An empty workbook, without openpyxl's default sheet."""
    book = Workbook()
    book.remove(book.active)
    return book


def add_sheet(book: Workbook, data: Sheet, *, fills: Mapping[str, str] | None = None) -> Any:
    """Append a styled sheet to the book (`fills`: a colour label's RGB); the worksheet."""
    sheet = book.create_sheet(data.title)
    sheet.append([c.title for c in data.columns])
    for row in data.rows:
        sheet.append(row)
    for index, column in enumerate(data.columns, start=1):
        _style_column(sheet, index, column, fills or {})
    sheet.freeze_panes = data.freeze
    return sheet


def save(book: Workbook, target: Target) -> None:
    """Write the workbook to a path or a stream."""
    book.save(str(target) if isinstance(target, Path) else target)


def save_book(target: Target, sheets: Iterable[Sheet], *, fills: Mapping[str, str] | None = None) -> None:
    """Write the sheets as one XLSX workbook: bold frozen headers, widths, formats, colour fills."""
    book = new_book()
    for sheet in sheets:
        add_sheet(book, sheet, fills=fills)
    save(book, target)


def _style_column(sheet: Any, index: int, column: Col, fills: Mapping[str, str]) -> None:
    """One column: width, a bold header (blue, or its label's colour), and its cells' look."""
    sheet.column_dimensions[get_column_letter(index)].width = column.width
    header = sheet.cell(row=1, column=index)
    header.font = Font(bold=True)
    header.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
    header.fill = solid(fills.get(column.title, HEADER_FILL) if column.kind == "colour" else HEADER_FILL)
    for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
        _style_cell(cell, column.kind, fills)


def _style_cell(cell: Any, kind: str, fills: Mapping[str, str]) -> None:
    """One data cell's look by its column's kind."""
    if kind in FORMATS:
        cell.number_format = FORMATS[kind]
    elif kind == "long":
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    elif kind == "colour" and isinstance(cell.value, str) and cell.value in fills:
        cell.fill = solid(fills[cell.value])
        cell.alignment = Alignment(horizontal="center")


def solid(rgb: str) -> PatternFill:
    """A solid fill of the colour."""
    return PatternFill("solid", fgColor=rgb)
