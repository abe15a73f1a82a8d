"""Reading CSV (UTF-8, UTF-8 with BOM, GBK) and XLSX (first sheet) into numbered rows of text."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from operator import itemgetter
from pathlib import Path

from python_calamine import CalamineError, CalamineWorkbook, PasswordError, XmlError, ZipError

from bot.errors import Invalid
from bot.importing.bulk import no_gc_pauses
from bot.importing.results import HEADER, ImportFailed, RowError


class Row(dict[str, str]):
    """One data row: cell text by header name, and the spreadsheet line it came from."""

    def __init__(self, line: int, cells: dict[str, str]) -> None:
        super().__init__(cells)
        self.line = line


@dataclass(frozen=True)
class Table:
    """A file's header (named columns only) and its non-blank data rows."""

    header_line: int
    header: list[str]
    rows: list[Row]


def read_rows(path: Path) -> list[Row]:
    """The data rows of a CSV or XLSX file, each with its line number (`row.line`)."""
    return read_table(path).rows


def read_table(path: Path) -> Table:
    """The first non-blank row as header, then every non-blank row below it."""
    with no_gc_pauses():
        return _table(path)


def _table(path: Path) -> Table:
    lines = [(n, cells) for n, cells in _read_lines(path) if any(cells)]
    if not lines:
        raise Invalid(f"文件里没有内容：{path.name}")
    (header_line, header), data = lines[0], lines[1:]
    keep = _named_columns(header_line, header, data)
    names, take = [header[i] for i in keep], _taker(keep)
    return Table(
        header_line, names, [Row(n, dict(zip(names, take(cells), strict=True))) for n, cells in data]
    )


def _named_columns(header_line: int, header: list[str], data: list[tuple[int, list[str]]]) -> list[int]:
    """Indexes of the named columns; unnamed columns must be empty, names must not repeat."""
    width = max(len(cells) for _, cells in [(header_line, header), *data])
    errors, keep = [], []
    for i in range(width):
        name = _cell(header, i)
        if name and name in header[:i]:
            errors.append(RowError(header_line, HEADER, f"列名「{name}」出现了不止一次"))
        elif name:
            keep.append(i)
        elif (first_used := next((n for n, cells in data if _cell(cells, i)), None)) is not None:
            errors.append(RowError(first_used, f"第{i + 1}列", "这一列有内容，但表头没有列名"))
    if errors:
        raise ImportFailed(errors)
    return keep


def _taker(keep: list[int]) -> Callable[[list[str]], Sequence[str]]:
    """A function picking the cells at `keep` from a line (a short line's missing cells are empty)."""
    if not keep:
        return lambda cells: ()
    width, pick = keep[-1] + 1, itemgetter(*keep)
    single = len(keep) == 1  # itemgetter of one index gives the item, not a tuple

    def take(cells: list[str]) -> Sequence[str]:
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        return (pick(cells),) if single else pick(cells)

    return take


def _cell(cells: Sequence[str], i: int) -> str:
    return cells[i] if i < len(cells) else ""


def _read_lines(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, cell texts) for every row of the file, blank rows included."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx", ".xlsm"):
        raise Invalid(f"只能导入 .csv 或 .xlsx 文件（.xls 请在 Excel 中另存为 .xlsx）：{path.name}")
    try:
        data = path.read_bytes()
        return _csv_lines(data) if suffix == ".csv" else _xlsx_lines(data, path.name)
    except FileNotFoundError:
        raise Invalid(f"找不到文件：{path}") from None
    except OSError as exc:
        raise Invalid(f"无法读取文件 {path.name}：{exc.strerror or exc}") from None


def _csv_lines(data: bytes) -> list[tuple[int, list[str]]]:
    """CSV records numbered as a spreadsheet shows them (a quoted line break stays in its cell)."""
    reader = csv.reader(io.StringIO(_decode(data), newline=""))
    try:
        return [(n, list(map(str.strip, cells))) for n, cells in enumerate(reader, start=1)]
    except csv.Error as exc:
        raise Invalid(f"CSV 格式有误（第{reader.line_num}行）：{exc}") from None


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM) first; then GBK, which Excel uses for "CSV" on Chinese Windows."""
    for encoding in ("utf-8-sig", "gbk", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise Invalid("无法识别文件编码：请在 Excel 中另存为「CSV UTF-8」或 .xlsx 后再导入")


def _xlsx_lines(data: bytes, name: str) -> list[tuple[int, list[str]]]:
    """The first sheet's rows as text, from A1 (so lines are the sheet's row numbers); cached formula values.

    Read with calamine (Rust): openpyxl took about 0.4 ms per row, 8 s for 20,000 enterprises, ten
    times what inserting them costs (bench/imports.py). calamine reads the cells that are really
    there, whatever <dimension> a tool wrote.
    """
    try:
        sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
        rows = sheet.to_python(skip_empty_area=False)
    except (CalamineError, PasswordError, XmlError, ZipError, ValueError, IndexError) as exc:
        raise Invalid(f"无法打开 Excel 文件 {name}：{exc}") from None
    return [(n, [_cell_text(v) for v in values]) for n, values in enumerate(rows, start=1)]


def _cell_text(value: object) -> str:
    """A cell as text; whole numbers lose Excel's ".0" (userid 1001, a mobile, a code)."""
    if type(value) is str:  # most cells
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime) and value.time() == time(0):
        return value.date().isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value).strip()
