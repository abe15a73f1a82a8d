"""A digest as one PNG a county leader reads at a glance on a phone: 红黑榜, 绿白黄红, the rates' trend.

Rendered server-side with matplotlib's Agg canvas on a `Figure` of our own (never pyplot: its
global figure registry is not for servers). Chinese needs a CJK font: `ZTC_CHART_FONT` (a .ttf,
.otf or .ttc), else the first one installed (Debian's fonts-noto-cjk gives Noto Sans CJK SC). With
none, `render` returns None and the digest goes out as text only (one warning in the log).
"""

from __future__ import annotations

import io
import logging
import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from matplotlib import font_manager, ft2font
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure, SubFigure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from handlers.digests.composing import boards, places
from handlers.digests.model import DepartmentOrders, Digest, ProjectFigures, TrendPoint

log = logging.getLogger(__name__)

# Families tried in order: Simplified Chinese forms first; a JP/TC face of a Pan-CJK font still has
# every hanzi (a few strokes differ), which beats no picture at all.
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
    "Source Han Sans",
    "Droid Sans Fallback",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
)
# matplotlib caches its font list on first use; a font installed after that is found by scanning.
FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
FONT_GLOBS = (
    "NotoSansCJK*.tt[cf]",
    "NotoSansCJK*.otf",
    "NotoSansSC*.[ot]tf",
    "SourceHanSans*.tt[cf]",
    "SourceHanSans*.otf",
    "wqy-*.tt[cf]",
    "DroidSansFallback*.ttf",
)
PROBE = "县政企红榜"  # a font without these glyphs would draw boxes

WIDTH_INCHES = 5.4
DPIS = (200, 150, 110)  # 1080 px wide first; smaller only if the PNG would pass WeCom's limit
MAX_BYTES = 2 * 1024 * 1024  # WeCom refuses images over 2 MB
MAX_DEPARTMENTS = 12  # more would not fit a phone screen: the best and the worst six are shown

GOOD, BAD, MIDDLE = "#2e9d4f", "#d83a34", "#9fb3c8"
INK, MUTED, EDGE = "#222222", "#777777", "#555555"
PROJECT_COLOURS = (
    ("绿", "#2e9d4f"),
    ("白", "#ffffff"),
    ("黄", "#f2c200"),
    ("红", "#d83a34"),
    ("未报", "#a0a0a0"),
)
TREND_LINES = (("响应率", "#1f6fb4", "o"), ("解决率", "#e07b00", "s"), ("满意率", "#7b3fa0", "^"))
NO_DATA = "本期无数据"
EMPTY_HEIGHT = 1.5  # inches of a panel that only says 本期无数据

# matplotlib's font caches and FT2Font objects are shared and not thread-safe: one render at a time.
_LOCK = threading.Lock()
_FONTS: dict[str | None, ChartFont | None] = {}


@dataclass(frozen=True)
class ChartFont:
    """A CJK font matplotlib can find by family name."""

    family: str
    path: str

    def props(self, size: float, bold: bool = False) -> FontProperties:
        """This font at `size` points."""
        return FontProperties(family=self.family, size=size, weight="bold" if bold else "normal")


def chart_available(font_path: str | None = None) -> bool:
    """Whether digests get a picture (a CJK font was found)."""
    return find_chart_font(font_path) is not None


def find_chart_font(font_path: str | None = None) -> ChartFont | None:
    """The configured font if usable, else the first installed CJK font, else None (warned once)."""
    with _LOCK:
        if font_path not in _FONTS:
            _FONTS[font_path] = _discover(font_path)
        return _FONTS[font_path]


def _discover(font_path: str | None) -> ChartFont | None:
    """Look once; say why in the log when a configured font is unusable or none is found."""
    if font_path:
        font = _from_file(Path(font_path))
        if font is not None:
            return font
        log.warning(
            "chart_font_unusable path=%s (no Chinese glyphs or unreadable); looking further", font_path
        )
    font = _known_family() or _scanned()
    if font is None:
        log.warning(
            "chart_font_missing: digests go out without a chart; "
            "install fonts-noto-cjk or set ZTC_CHART_FONT to a Chinese .ttf/.otf/.ttc"
        )
    return font


def _known_family() -> ChartFont | None:
    """The first family of CJK_FAMILIES in matplotlib's font list whose file has Chinese glyphs."""
    for family in CJK_FAMILIES:
        for entry in font_manager.fontManager.ttflist:
            if entry.name == family and _has_cjk(entry.fname):
                return ChartFont(family, entry.fname)
    return None


def _scanned() -> ChartFont | None:
    """The first CJK font file under FONT_DIRS, added to matplotlib's font list."""
    for path in _font_files():
        font = _from_file(path)
        if font is not None:
            return font
    return None


def _font_files() -> Iterator[Path]:
    """Files that look like CJK fonts, in a stable order."""
    for directory in FONT_DIRS:
        for pattern in FONT_GLOBS:
            yield from sorted(directory.rglob(pattern)) if directory.is_dir() else ()


def _from_file(path: Path) -> ChartFont | None:
    """Register a font file with matplotlib and pick its Simplified Chinese face if it has several."""
    if not path.is_file() or not _has_cjk(str(path)):
        return None
    try:
        font_manager.fontManager.addfont(str(path))
    except (OSError, RuntimeError, ValueError):
        return None
    names = [e.name for e in font_manager.fontManager.ttflist if Path(e.fname).resolve() == path.resolve()]
    preferred = [n for n in names if n.endswith((" SC", " CN", " GB"))]
    return ChartFont((preferred or names)[0], str(path)) if names else None


def _has_cjk(path: str) -> bool:
    """Whether the font (its first face) has the probe's glyphs."""
    try:
        font = ft2font.FT2Font(path)
    except (OSError, RuntimeError, ValueError):
        return False
    return all(font.get_char_index(ord(c)) for c in PROBE)


def render(digest: Digest, font_path: str | None = None) -> bytes | None:
    """The digest's chart as PNG bytes (under 2 MB), or None when no Chinese font is installed."""
    font = find_chart_font(font_path)
    if font is None:
        return None
    with _LOCK:
        figure = _figure(digest, font)
        for dpi in DPIS:
            png = _png(figure, dpi)
            if len(png) <= MAX_BYTES:
                return png
    log.warning("chart_too_large bytes=%d: the digest goes out without it", len(png))
    return None


def _png(figure: Figure, dpi: int) -> bytes:
    """The figure as PNG; no Software or date chunk, so the same digest gives the same bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, facecolor="white", metadata={"Software": None})
    return buffer.getvalue()


def _figure(digest: Digest, font: ChartFont) -> Figure:
    """Title, then three panels stacked for a phone's tall screen."""
    ranked, left_out = _ranked(digest.orders.departments)
    heights = [
        _ranking_height(len(ranked)),
        2.5 if _colour_counts(digest.projects) else EMPTY_HEIGHT,
        2.9 if _trend_values(digest.trend) else EMPTY_HEIGHT,
    ]
    figure = Figure(figsize=(WIDTH_INCHES, sum(heights) + 0.9), layout="constrained")
    FigureCanvasAgg(figure)  # attach the Agg canvas explicitly: no backend lookup, no pyplot
    title = f"{digest.scope.label} · 政企直通车\n{digest.period.label}"
    figure.suptitle(title, fontproperties=font.props(14, bold=True), color=INK)
    # Subfigures lay out on their own: the ranking's long names do not narrow the panels below.
    panels = cast("Sequence[SubFigure]", figure.subfigures(3, 1, height_ratios=heights, hspace=0.04))
    _draw_ranking(panels[0].subplots(), ranked, left_out, font)
    _draw_colours(panels[1].subplots(), digest.projects, font)
    _draw_trend(panels[2].subplots(), digest.trend, font)
    return figure


def _panel_title(ax: Axes, text: str, font: ChartFont) -> None:
    """A bold title at the panel's left edge (not the axes': the ranking's names would shift it)."""
    ax.figure.suptitle(text, x=0.02, ha="left", fontproperties=font.props(12, bold=True), color=INK)


def _no_data(ax: Axes, font: ChartFont) -> None:
    """An empty panel that says so, instead of bare axes."""
    ax.set_axis_off()
    ax.text(0.5, 0.45, NO_DATA, ha="center", va="center", color=MUTED, fontproperties=font.props(14))


# ── 红榜 / 黑榜 ──────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class _Row:
    """One bar of the ranking (score None: the gap between the best and the worst)."""

    rank: int
    name: str
    score: float | None


def _ranked(departments: Sequence[DepartmentOrders]) -> tuple[list[_Row], int]:
    """The rows to draw, best first (equal scores share a place), and how many have no score this period."""
    scored = [d for d in departments if d.score is not None]
    ranks = places([d.score for d in scored])
    rows = [_Row(rank, _short(d.name), d.score) for rank, d in zip(ranks, scored, strict=True)]
    if len(rows) > MAX_DEPARTMENTS:
        half = MAX_DEPARTMENTS // 2
        rows = [*rows[:half], _Row(0, f"…… 略{len(rows) - 2 * half}个", None), *rows[-half:]]
    return rows, len(departments) - len(scored)


def _short(name: str, limit: int = 9) -> str:
    """A department name short enough for the axis (县自然资源和规划局 fits; longer ones are cut)."""
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _ranking_height(rows: int) -> float:
    """Inches for the ranking panel: room for each bar's label at a phone-readable size."""
    return max(EMPTY_HEIGHT, 0.36 * rows + 1.1)  # a lone department keeps a normal bar


def _bar_colours(rows: Sequence[_Row]) -> list[str]:
    """The best green, the worst red, up to three each (a third of them), the middle neutral.

    As the digest's 红榜 and 黑榜 (composing.boards): equal scores get the same colour, and a bar is
    red only if its score is below every green one.
    """
    scores = [r.score for r in rows if r.score is not None]
    edge = min(3, max(1, len(scores) // 3)) if len(scores) > 1 else 0
    good, bad = boards(scores, edge)
    colours, index = [], 0
    for row in rows:
        if row.score is None:
            colours.append(MIDDLE)  # the gap between the best and the worst
            continue
        colours.append(GOOD if index < good else BAD if index >= len(scores) - bad else MIDDLE)
        index += 1
    return colours


def _draw_ranking(ax: Axes, rows: list[_Row], unscored: int, font: ChartFont) -> None:
    """Horizontal bars of each department's score, the best at the top, value at each bar's end."""
    _panel_title(ax, "红榜 / 黑榜 · 部门综合得分", font)
    if not rows:
        _no_data(ax, font)
        return
    y = list(range(len(rows)))[::-1]  # first row at the top
    scores = [(r.score or 0.0) * 100 for r in rows]
    bars = ax.barh(y, scores, color=_bar_colours(rows), height=0.66)
    values = [f"{s:.1f}%" if r.score is not None else "" for r, s in zip(rows, scores, strict=True)]
    ax.bar_label(bars, values, padding=4, fontproperties=font.props(10), color=INK)
    labels = [f"{r.rank}. {r.name}" if r.rank else r.name for r in rows]
    ax.set_yticks(y, labels, fontproperties=font.props(10), color=INK)
    ax.set_xlim(0, 118)  # room for "100.0%" after a full bar
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xticks([])
    ax.tick_params(axis="y", length=0)
    ax.spines[["top", "right", "bottom"]].set_visible(False)
    ax.set_xlabel(_ranking_note(unscored), fontproperties=font.props(8.5), color=MUTED, loc="left")


def _ranking_note(unscored: int) -> str:
    """What the score is, and who is missing from the ranking."""
    note = "得分：响应率、解决率、满意率的平均"
    return note + (f"；另有{unscored}个部门本期无评分" if unscored else "")


# ── 重点项目 绿白黄红 ─────────────────────────────────────────────────────────────────────────


def _colour_counts(projects: ProjectFigures) -> tuple[list[int], list[int]] | None:
    """This week's and last week's projects per colour, in PROJECT_COLOURS order; None when no projects."""
    now = [projects.colours.get(name, 0) for name, _ in PROJECT_COLOURS]
    before = [projects.colours_before.get(name, 0) for name, _ in PROJECT_COLOURS]
    return (now, before) if any(now) or any(before) else None


def _draw_colours(ax: Axes, projects: ProjectFigures, font: ChartFont) -> None:
    """Grouped bars per colour: last week faded, this week solid, each with its count."""
    _panel_title(ax, f"重点项目 绿白黄红 · {projects.week_label}", font)
    counts = _colour_counts(projects)
    if counts is None:
        _no_data(ax, font)
        return
    now, before = counts
    _colour_bars(ax, before, -0.2, faded=True, font=font)
    _colour_bars(ax, now, 0.2, faded=False, font=font)
    names = [name for name, _ in PROJECT_COLOURS]
    ax.set_xticks(range(len(names)), names, fontproperties=font.props(11), color=INK)
    ax.set_ylim(0, max(*now, *before) * 1.28)  # room for the counts above the tallest bar
    ax.set_yticks([])
    ax.tick_params(axis="x", length=0)
    ax.spines[["top", "right", "left"]].set_visible(False)
    _week_legend(ax, font)


def _colour_bars(ax: Axes, counts: Sequence[int], offset: float, faded: bool, font: ChartFont) -> None:
    """One week's five bars beside the colour's tick, each labelled with its count."""
    x = [i + offset for i in range(len(PROJECT_COLOURS))]
    colours = [colour for _, colour in PROJECT_COLOURS]
    alpha, hatch = (0.4, "//") if faded else (1.0, "")
    # The outline is what makes the 白 bar visible on a white page.
    bars = ax.bar(x, counts, 0.38, color=colours, alpha=alpha, hatch=hatch, edgecolor=EDGE)
    ax.bar_label(bars, [str(c) for c in counts], padding=2, fontproperties=font.props(10), color=INK)


def _week_legend(ax: Axes, font: ChartFont) -> None:
    """上周 (faded, hatched) and 本周 (solid), above the bars on the right, level with the title."""
    handles = [
        Patch(facecolor=MUTED, alpha=0.4, hatch="//", edgecolor=EDGE, label="上周"),
        Patch(facecolor=MUTED, edgecolor=EDGE, label="本周"),
    ]
    # Not inside the axes: there it could cover a tall 未报 bar.
    ax.legend(
        handles=handles,
        prop=font.props(9.5),
        loc="lower right",
        bbox_to_anchor=(1, 1),
        frameon=False,
        ncols=2,
    )


# ── 响应率 / 解决率 / 满意率 trend ───────────────────────────────────────────────────────────


def _trend_values(trend: Sequence[TrendPoint]) -> dict[str, list[float]] | None:
    """Each rate's line in percent, NaN where a period had nothing to rate (a gap); None: no values."""
    pick = {
        "响应率": lambda p: p.response,
        "解决率": lambda p: p.solve,
        "满意率": lambda p: p.satisfaction,
    }
    lines = {
        name: [math.nan if (v := get(p)) is None else v * 100 for p in trend] for name, get in pick.items()
    }
    return lines if any(not math.isnan(v) for values in lines.values() for v in values) else None


def _draw_trend(ax: Axes, trend: Sequence[TrendPoint], font: ChartFont) -> None:
    """Three lines with markers over the periods; the legend carries this period's values."""
    _panel_title(ax, "响应率 · 解决率 · 满意率 走势", font)
    lines = _trend_values(trend)
    if lines is None:
        _no_data(ax, font)
        return
    present = [v for values in lines.values() for v in values if not math.isnan(v)]
    x = list(range(len(trend)))
    for name, colour, marker in TREND_LINES:
        label = f"{name} {_latest(lines[name])}"
        # Unclipped: a marker at 0% or 100% sits on the axis edge and would be cut in half.
        ax.plot(x, lines[name], color=colour, marker=marker, ms=6, lw=2.2, label=label, clip_on=False)
    ax.set_ylim(_floor(min(present)), 103)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f}%"))
    ax.tick_params(axis="y", labelsize=9, labelfontfamily=font.family, colors=MUTED)
    labels = [p.label for p in trend]
    ax.set_xticks(x, labels, fontproperties=font.props(9), color=INK, rotation=_tick_rotation(labels))
    ax.set_xlim(-0.4, len(trend) - 0.6)
    ax.grid(axis="y", color="#e3e3e3", linewidth=0.8)
    ax.spines[["top", "right"]].set_visible(False)
    # Below the panel: above it would run into the title, inside it into the lines.
    ax.figure.legend(prop=font.props(9.5), loc="outside lower center", frameon=False, ncols=3)


def _tick_rotation(labels: Sequence[str]) -> int:
    """Slant the period labels when side by side they would run into each other."""
    em = 9 / 72  # inches per em at 9 pt: a hanzi is one em wide, a digit about half
    needed = sum(sum(0.55 if c.isascii() else 1 for c in label) * em + 0.15 for label in labels)
    return 30 if needed > WIDTH_INCHES * 0.8 else 0


def _latest(values: Sequence[float]) -> str:
    """This period's value (the last point) as a percentage, or — when it has none."""
    return "—" if not values or math.isnan(values[-1]) else f"{values[-1]:.1f}%"


def _floor(lowest: float) -> float:
    """The y axis starts just below the lowest rate (a flat 0–100 axis hides the differences)."""
    return max(0.0, min(80.0, math.floor((lowest - 5) / 10) * 10))
