"""What every benchmark shares: its table of results, its command-line options, how it ends."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

DATABASE_HELP = "an EMPTY database (e.g. PostgreSQL); default: a temporary SQLite file"
REDIS_HELP = "an EMPTY Redis database of its own (flushed after); default: an embedded redis-server"


@dataclass(frozen=True)
class Row:
    """One line of the table: a measure, its value, and its goal when it has one."""

    measure: str
    measured: str
    goal: str = ""
    passed: bool | None = None  # None: shown for information, not judged

    @property
    def result(self) -> str:
        return "" if self.passed is None else "PASS" if self.passed else "FAIL"


@dataclass(frozen=True)
class Report:
    """A benchmark's title and rows; failed if any goal was missed."""

    title: str
    rows: list[Row]

    @property
    def failed(self) -> bool:
        return any(row.passed is False for row in self.rows)

    def table(self) -> str:
        """The rows as aligned columns: measure, measured, goal, result."""
        header = Row("measure", "measured", "goal")
        rows = [header, *self.rows]
        widths = [max(len(getattr(r, f)) for r in rows) for f in ("measure", "measured", "goal")]
        lines = [self.title]
        for row in rows:
            cells = (row.measure, row.measured, row.goal)
            text = "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))
            lines.append(f"{text}  {row.result or ('result' if row is header else '')}".rstrip())
        return "\n".join(lines)


def positive(text: str) -> int:
    """An option's whole number, at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def duration(value: float) -> str:
    """A duration as people read it: milliseconds below a second."""
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def parser_for(module: str, doc: str | None) -> argparse.ArgumentParser:
    """The option parser of `python -m <module>`, described by the first line of its docstring."""
    return argparse.ArgumentParser(prog=f"python -m {module}", description=(doc or "").split("\n")[0])


def backend_options(parser: argparse.ArgumentParser, *, redis: bool = False) -> None:
    """--database-url (and --redis-url): where to run instead of the embedded defaults."""
    parser.add_argument("--database-url", default=None, help=DATABASE_HELP)
    if redis:
        parser.add_argument("--redis-url", default=None, help=REDIS_HELP)


def finish(report: Report) -> int:
    """Print the table; the exit status: 1 if a goal was missed."""
    print(report.table())
    return 1 if report.failed else 0
