"""Benchmark: bulk imports against a bare SQLAlchemy Core executemany (issue 10, benchmark 6).

Goal (issue 10): **bulk imports at ≥ 50% of SQLAlchemy Core executemany's rate.**

    .venv/bin/python -m bench.imports [--enterprises 20000] [--rounds 5] [--seed 1] [--database-url URL]

A county's enterprise list (统一社会信用代码, 企业名称, 包联部门, 所在乡镇) is generated from the seed
and written as a CSV (UTF-8 with BOM, as Excel's "CSV UTF-8") and as an XLSX. Each round imports it
the way `ztc import enterprises FILE` does (bot.importing.import_file in one session, committed:
read, validate every cell, upsert by code, one audit row per enterprise), from the CSV and from
the XLSX, and inserts the same enterprises, already as column values, with one Core executemany
(the ceiling); the three take turns going first, each into emptied tables. The ceiling writes only
the enterprises; the import writes as many audit rows besides, and they count as its work.

The database is a temporary SQLite file, unless --database-url names another (PostgreSQL): that
database must be empty; the benchmark creates its tables and drops them afterwards.
"""

from __future__ import annotations

import argparse
import csv
import gc
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openpyxl
from sqlalchemy import Engine, delete, func, insert, inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from bench.common import Report, Row, backend_options, duration, finish, parser_for, positive
from bench.digest import BRANDS, DEPARTMENTS, TRADES
from bench.policy_matching import REGIONS
from bot.clock import SystemClock
from bot.db import Base, make_engine, make_session_factory, session_scope
from bot.importing import ImportReport, import_file, read_table
from bot.models import AuditEvent, Department, DepartmentKind, Enterprise
from bot.uscc import make_uscc

GOAL_SHARE = 0.5
HEADER = ["统一社会信用代码", "企业名称", "包联部门", "所在乡镇"]
CONTACT_KINDS = (DepartmentKind.CONTACT.value, DepartmentKind.BOTH.value)

CSV_ROW = "import CSV / ceiling (rate), median of rounds"
XLSX_ROW = "import XLSX / ceiling (rate), median of rounds"


# --- the data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Listing:
    """The generated enterprise list: the cells as written to the files, and the ceiling's rows."""

    cells: list[list[str]]
    ceiling_rows: list[dict[str, Any]]


def _departments(engine: Engine) -> list[tuple[int, str, str]]:
    """The departments of bench.digest's county, inserted; the 包联 ones as (id, code, name)."""
    now = datetime.now(UTC)
    rows = [
        {"id": number, "code": code, "name": name, "kind": kind, "created_at": now}
        for number, (code, name, kind) in enumerate(DEPARTMENTS, start=1)
    ]
    with engine.begin() as conn:
        conn.execute(insert(Department), rows)
    return [
        (number, code, name)
        for number, (code, name, kind) in enumerate(DEPARTMENTS, start=1)
        if kind in CONTACT_KINDS
    ]


def _untidy(rng: random.Random, code: str) -> str:
    """A code as people type it now and then: in groups of four, or in lower case (both accepted)."""
    draw = rng.random()
    if draw < 0.02:
        return " ".join(code[i : i + 4] for i in range(0, len(code), 4))
    if draw < 0.03:
        return code.lower()
    return code


def listing(rng: random.Random, count: int, contacts: list[tuple[int, str, str]]) -> Listing:
    """`count` distinct enterprises: valid codes, 包联部门 by code (70%), by name (25%) or none."""
    cells, rows = [HEADER], []
    codes = rng.sample(range(10**9), count)  # distinct 组织机构代码 parts, so distinct USCCs
    now = datetime.now(UTC)
    for number in codes:
        uscc = make_uscc(f"{rng.choice(('91', '91', '91', '92', '93'))}371526{number:09d}")
        name = f"示范县{''.join(rng.sample(BRANDS, 2))}{rng.choice(TRADES)}有限公司"
        draw = rng.random()
        department = rng.choice(contacts) if draw < 0.95 else None
        cell = "" if department is None else (department[1] if draw < 0.70 else department[2])
        region = rng.choice(REGIONS) if rng.random() < 0.95 else ""
        cells.append([_untidy(rng, uscc), name, cell, region])
        rows.append({
            "uscc": uscc, "name": name, "contact_department_id": department[0] if department else None,
            "region": region or None, "created_at": now,
        })  # fmt: skip
    return Listing(cells, rows)


def write_files(folder: Path, cells: list[list[str]]) -> tuple[Path, Path]:
    """The list as Excel saves it: "CSV UTF-8" (with BOM, CRLF) and an XLSX workbook."""
    csv_path, xlsx_path = folder / "enterprises.csv", folder / "enterprises.xlsx"
    with csv_path.open("w", encoding="utf-8-sig", newline="") as out:
        csv.writer(out, lineterminator="\r\n").writerows(cells)
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for line in cells:
        sheet.append(line)
    book.save(xlsx_path)
    return csv_path, xlsx_path


# --- what is timed ------------------------------------------------------------------------------------


def _clear(engine: Engine) -> None:
    """Empty the enterprises and the audit trail, so each timed run starts alike."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE audit_events, enterprises CASCADE"))
        else:
            conn.execute(delete(AuditEvent))
            conn.execute(delete(Enterprise))


def import_enterprises(factory: sessionmaker[Session], path: Path) -> ImportReport:
    """What `ztc import enterprises FILE` does once its runtime is built: one session, committed."""
    with session_scope(factory) as session:
        return import_file(session, "enterprises", path, clock=SystemClock())


def ceiling(engine: Engine, rows: list[dict[str, Any]]) -> int:
    """The same enterprises, already as column values, in one Core executemany, committed."""
    with engine.begin() as conn:
        conn.execute(insert(Enterprise), rows)
    return len(rows)


def _timed(engine: Engine, action: Callable[[], Any]) -> tuple[float, Any]:
    """Empty the tables, collect garbage, then time `action` alone."""
    _clear(engine)
    gc.collect()
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def _counts(factory: sessionmaker[Session]) -> tuple[int, int]:
    with factory() as session:
        enterprises = session.scalar(select(func.count()).select_from(Enterprise)) or 0
        audits = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.entity == "enterprise")
        )
        return enterprises, audits or 0


@dataclass
class Times:
    """Seconds per round for each contender, in the order they ran."""

    by_name: dict[str, list[float]]

    def median(self, name: str) -> float:
        return statistics.median(self.by_name[name])

    def ratios(self, ours: str) -> list[float]:
        """Per round: the ceiling's time over ours, i.e. our rate as a share of the ceiling's."""
        return [c / o for c, o in zip(self.by_name["ceiling"], self.by_name[ours], strict=True)]


def run_rounds(
    engine: Engine,
    factory: sessionmaker[Session],
    paths: dict[str, Path],
    rows: list[dict[str, Any]],
    rounds: int,
) -> tuple[Times, dict[str, ImportReport]]:
    """A warm-up of each, then `rounds` rounds of the three, each round starting with the next one."""
    contenders: dict[str, Callable[[], Any]] = {
        "csv": lambda: import_enterprises(factory, paths["csv"]),
        "xlsx": lambda: import_enterprises(factory, paths["xlsx"]),
        "ceiling": lambda: ceiling(engine, rows),
    }
    reports: dict[str, ImportReport] = {}
    for name, action in contenders.items():  # warm-up: caches, compiled statements, the files' pages
        _, result = _timed(engine, action)
        if isinstance(result, ImportReport):
            reports[name] = result
    times: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for round_ in range(rounds):
        for name in names[round_ % 3 :] + names[: round_ % 3]:
            seconds, _ = _timed(engine, contenders[name])
            times[name].append(seconds)
    return Times(times), reports


def _rate(seconds: float, count: int) -> str:
    return f"{duration(seconds)} ({count / seconds:,.0f} rows/s)"


def _percent(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.0%}" for v in values)


def measure(engine: Engine, folder: Path, options: argparse.Namespace) -> list[Row]:
    """Generate, write the files, run the rounds; the table's rows."""
    contacts = _departments(engine)
    data = listing(random.Random(options.seed), options.enterprises, contacts)
    paths = dict(zip(("csv", "xlsx"), write_files(folder, data.cells), strict=True))
    factory = make_session_factory(engine)
    times, reports = run_rounds(engine, factory, paths, data.ceiling_rows, options.rounds)
    count = options.enterprises

    reading = {kind: statistics.median(_read_times(path, options.rounds)) for kind, path in paths.items()}
    _clear(engine)
    import_enterprises(factory, paths["csv"])  # for the sanity check and the re-import
    stored, audited = _counts(factory)
    again = [_time_reimport(factory, paths["csv"]) for _ in range(options.rounds)]
    csv_ratios, xlsx_ratios = times.ratios("csv"), times.ratios("xlsx")
    csv_share, xlsx_share = statistics.median(csv_ratios), statistics.median(xlsx_ratios)
    goal = f">= {GOAL_SHARE:.0%}"
    return [
        Row("ceiling: Core executemany of the enterprises, median", _rate(times.median("ceiling"), count)),
        Row("ztc import enterprises, CSV, median", _rate(times.median("csv"), count)),
        Row("  reading the CSV (read_table), median", duration(reading["csv"])),
        Row("ztc import enterprises, XLSX, median", _rate(times.median("xlsx"), count)),
        Row("  reading the XLSX (read_table), median", duration(reading["xlsx"])),
        Row(CSV_ROW, f"{csv_share:.0%} (rounds: {_percent(csv_ratios)})", goal, csv_share >= GOAL_SHARE),
        Row(XLSX_ROW, f"{xlsx_share:.0%} (rounds: {_percent(xlsx_ratios)})", goal, xlsx_share >= GOAL_SHARE),
        Row("re-import of the same CSV (all unchanged), median", duration(statistics.median(again))),
        Row("import reports (CSV / XLSX)", f"{reports['csv'].summary()} / {reports['xlsx'].summary()}"),
        Row("stored enterprises / their audit rows after one import", f"{stored:,} / {audited:,}"),
    ]


def _read_times(path: Path, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        gc.collect()
        start = time.perf_counter()
        read_table(path)
        times.append(time.perf_counter() - start)
    return times


def _time_reimport(factory: sessionmaker[Session], path: Path) -> float:
    gc.collect()
    start = time.perf_counter()
    report = import_enterprises(factory, path)
    seconds = time.perf_counter() - start
    assert report.created == report.updated == 0, report.summary()
    return seconds


# --- running ----------------------------------------------------------------------------------------


def run(options: argparse.Namespace) -> Report:
    """Build the files and an empty schema, measure, and judge both imports against the ceiling."""
    with tempfile.TemporaryDirectory(prefix="bench-imports-") as name:
        folder = Path(name)
        url = options.database_url or f"sqlite:///{folder / 'imports.sqlite3'}"
        engine = make_engine(url)
        try:
            if inspect(engine).get_table_names():
                raise SystemExit(f"bench.imports needs an empty database; {engine.url!r} has tables")
            Base.metadata.create_all(engine)
            try:
                rows = measure(engine, folder, options)
            finally:
                Base.metadata.drop_all(engine)
        finally:
            engine.dispose()
    backend = "SQLite (temp file)" if not options.database_url else engine.dialect.name
    title = (
        f"imports: {options.enterprises:,} enterprises (统一社会信用代码, 企业名称, 包联部门, 所在乡镇) "
        f"from CSV and XLSX vs Core executemany; {backend}; seed {options.seed}, {options.rounds} round(s); "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}"
    )
    return Report(title, rows)


def options(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = parser_for("bench.imports", __doc__)
    parser.add_argument("--enterprises", type=positive, default=20_000)
    parser.add_argument("--rounds", type=positive, default=5)
    parser.add_argument("--seed", type=int, default=1)
    backend_options(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run, print the table; 1 if a goal was missed."""
    return finish(run(options(argv)))


if __name__ == "__main__":
    sys.exit(main())
