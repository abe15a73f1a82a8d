"""The digest chart: a phone-sized PNG under WeCom's 2 MB, Chinese in real glyphs; no font, no chart."""

from __future__ import annotations

import io
import logging
import threading
import warnings
from datetime import date
from pathlib import Path

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image, ImageChops

from bot.settings import Settings, SettingsError
from handlers.digests import charts
from handlers.digests.model import (
    DepartmentOrders,
    Digest,
    InspectionFigures,
    OrderFigures,
    PolicyFigures,
    ProjectFigures,
    Scope,
    TrendPoint,
    week_period,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ARTIFACT = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "digest-chart.png"
NO_FONT = (
    "no Chinese font installed: apt-get install fonts-noto-cjk (Debian), "
    "or set ZTC_CHART_FONT to a Chinese .ttf/.otf/.ttc"
)
NAMES = [
    "县发展和改革局",
    "县财政局",
    "县自然资源和规划局",
    "县市场监督管理局",
    "县住房和城乡建设局",
    "县生态环境分局",
    "县行政审批服务局",
    "县人力资源和社会保障局",
    "县税务局",
    "经济开发区管委会",
    "县交通运输局",
    "县水利局",
    "县应急管理局",
    "县商务局",
    "县工业和信息化局",
]


def department(index: int, name: str, score: float | None) -> DepartmentOrders:
    """A department's orders with only what the chart reads filled in."""
    return DepartmentOrders(index, name, 4, 2, 0, None, None, {}, score)


def projects(colours: dict[str, int], before: dict[str, int]) -> ProjectFigures:
    """Project figures with only the colour counts."""
    return ProjectFigures("第47周", colours, before, [], [], [], [], 0, [], [])


def make_digest(
    departments: list[DepartmentOrders], figures: ProjectFigures, trend: list[TrendPoint]
) -> Digest:
    """A county week digest with the given chart data."""
    orders = OrderFigures(12, 5, 1, departments, {}, {}, [])
    return Digest(
        week_period(date(2026, 11, 23)),
        Scope("全县"),
        orders,
        figures,
        InspectionFigures(0, [], [], 0),
        PolicyFigures(0, 0, 0),
        trend,
    )


@pytest.fixture
def digest() -> Digest:
    """15 ranked departments (more than fit), one without a score, colours, and an 8-week trend with a gap."""
    ranked = [department(i, name, 0.97 - i * 0.035) for i, name in enumerate(NAMES)]
    trend = [
        TrendPoint(f"第{40 + i}周", 0.8 + i * 0.02, 0.75 + (i % 3) * 0.05, None if i == 2 else 0.9 + i * 0.01)
        for i in range(8)
    ]
    colours = projects({"绿": 8, "白": 3, "黄": 2, "红": 1, "未报": 1}, {"绿": 7, "白": 4, "黄": 1, "红": 2})
    return make_digest([*ranked, department(99, "县档案馆", None)], colours, trend)


@pytest.fixture
def empty_digest() -> Digest:
    """A period with nothing to draw in any panel."""
    return make_digest(
        [department(1, "县财政局", None)], projects({}, {}), [TrendPoint("第47周", None, None, None)]
    )


@pytest.fixture
def cjk_font() -> charts.ChartFont:
    """The font the charts use; skip the glyph tests on a machine without one."""
    font = charts.find_chart_font()
    if font is None:
        pytest.skip(NO_FONT)
    return font


@pytest.fixture
def no_installed_font(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A machine without any Chinese font: no known family, nothing to find on disk, nothing cached."""
    monkeypatch.setattr(charts, "CJK_FAMILIES", ("No Such Font SC",))
    monkeypatch.setattr(charts, "FONT_DIRS", (tmp_path,))
    monkeypatch.setattr(charts, "_FONTS", {})


def render_quietly(digest: Digest) -> tuple[bytes | None, list[warnings.WarningMessage]]:
    """Render, recording every warning (a missing glyph is a UserWarning from matplotlib)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = charts.render(digest)
    return png, caught


def test_the_digest_is_one_phone_sized_png_under_two_megabytes(
    digest: Digest, cjk_font: charts.ChartFont, tmp_path: Path
) -> None:
    png, caught = render_quietly(digest)
    assert png is not None and png.startswith(PNG_SIGNATURE)
    assert len(png) < 2 * 1024 * 1024  # WeCom's image limit
    (tmp_path / "digest-chart.png").write_bytes(png)
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_bytes(png)  # for a human to look at
    with Image.open(io.BytesIO(png)) as image:
        width, height = image.size
    assert width == 1080 and height >= 1.3 * width
    assert [str(w.message) for w in caught] == []


def test_every_chinese_character_of_the_digest_has_a_glyph(
    digest: Digest, cjk_font: charts.ChartFont
) -> None:
    _, caught = render_quietly(digest)
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert missing == []


def text_image(text: str, font: charts.ChartFont) -> Image.Image:
    """`text` drawn black on white in the chart font, as a greyscale image."""
    figure = Figure(figsize=(3, 0.8), dpi=100)
    FigureCanvasAgg(figure)
    figure.text(0.05, 0.5, text, va="center", fontproperties=font.props(24))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", facecolor="white")
    return Image.open(io.BytesIO(buffer.getvalue())).convert("L")


def inked(image: Image.Image) -> int:
    """How many pixels are darker than light grey."""
    return sum(image.point(lambda v: 255 if v < 160 else 0).histogram()[255:])


def test_chinese_is_drawn_with_glyphs_not_boxes(cjk_font: charts.ChartFont) -> None:
    # Missing glyphs all draw the same box, so two different strings of one length would look alike.
    first, second = text_image("红榜黑榜", cjk_font), text_image("满意响应", cjk_font)
    difference = ImageChops.difference(first, second)
    assert inked(first) > 500 and inked(second) > 500
    assert inked(ImageChops.invert(difference)) > 0.4 * min(inked(first), inked(second))


def test_empty_data_draws_panels_that_say_so(empty_digest: Digest, cjk_font: charts.ChartFont) -> None:
    png, caught = render_quietly(empty_digest)
    assert png is not None and png.startswith(PNG_SIGNATURE)
    assert [str(w.message) for w in caught] == []
    with Image.open(io.BytesIO(png)) as image:
        assert image.size[0] == 1080


def test_the_same_digest_gives_the_same_bytes_from_several_threads(
    digest: Digest, cjk_font: charts.ChartFont
) -> None:
    results: list[bytes | None] = []
    threads = [threading.Thread(target=lambda: results.append(charts.render(digest))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3 and results[0] is not None
    assert results.count(results[0]) == 3  # no timestamp in the file, no drawing interleaved


def test_a_configured_font_file_is_used_with_its_simplified_chinese_face(cjk_font: charts.ChartFont) -> None:
    font = charts.find_chart_font(cjk_font.path)
    assert font is not None and font.path == cjk_font.path
    if cjk_font.path.endswith(".ttc") and "CJK" in font.family:
        assert font.family.endswith(" SC")  # not the file's first face (JP)


def test_without_a_chinese_font_there_is_no_chart_and_one_warning(
    no_installed_font: None, digest: Digest, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="handlers.digests.charts"):
        assert charts.render(digest) is None
        assert charts.render(digest) is None
        assert charts.chart_available() is False
    warned = [r for r in caplog.records if "chart_font_missing" in r.getMessage()]
    assert len(warned) == 1
    assert "fonts-noto-cjk" in warned[0].getMessage() and "ZTC_CHART_FONT" in warned[0].getMessage()


def test_a_configured_file_without_chinese_glyphs_falls_back(
    no_installed_font: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_font = tmp_path / "broken.ttf"
    not_a_font.write_bytes(b"not a font")
    with caplog.at_level(logging.WARNING, logger="handlers.digests.charts"):
        assert charts.find_chart_font(str(not_a_font)) is None
    assert any("chart_font_unusable" in r.getMessage() for r in caplog.records)


def test_at_most_twelve_departments_the_best_and_the_worst_six() -> None:
    departments = [department(i, f"部门{i}", 1 - i / 40) for i in range(20)] + [
        department(99, "无评分", None)
    ]
    rows, unscored = charts._ranked(departments)
    assert [r.rank for r in rows] == [1, 2, 3, 4, 5, 6, 0, 15, 16, 17, 18, 19, 20]
    assert rows[6].name == "…… 略8个" and unscored == 1
    colours = charts._bar_colours(rows)
    assert colours[:3] == [charts.GOOD] * 3 and colours[-3:] == [charts.BAD] * 3
    assert set(colours[3:-3]) == {charts.MIDDLE}


@pytest.mark.parametrize(
    "count, good, bad", [(1, 0, 0), (2, 1, 1), (3, 1, 1), (6, 2, 2), (9, 3, 3), (12, 3, 3)]
)
def test_the_best_are_green_and_the_worst_red(count: int, good: int, bad: int) -> None:
    rows, _ = charts._ranked([department(i, f"部门{i}", 1 - i / 20) for i in range(count)])
    colours = charts._bar_colours(rows)
    assert colours.count(charts.GOOD) == good and colours.count(charts.BAD) == bad
    assert colours[:good] == [charts.GOOD] * good and colours[count - bad :] == [charts.BAD] * bad


def test_the_chart_font_setting_must_name_an_existing_font_file(tmp_path: Path) -> None:
    font = tmp_path / "simhei.ttf"
    font.write_bytes(b"")
    assert Settings.from_env({"ZTC_CHART_FONT": str(font)}).chart_font == str(font)
    assert Settings.from_env({}).chart_font is None
    with pytest.raises(SettingsError, match="ZTC_CHART_FONT"):
        Settings.from_env({"ZTC_CHART_FONT": str(tmp_path / "missing.ttf")})
    with pytest.raises(SettingsError, match="ZTC_CHART_FONT"):
        Settings.from_env({"ZTC_CHART_FONT": str(tmp_path)})


@pytest.mark.parametrize(
    "scores, ranks, colours",
    [
        ([1.0, 1.0, 1.0, 1.0, 0.98], [1, 1, 1, 1, 5], "GGGGB"),  # a 100% bar is never red
        ([0.9, 0.9, 0.9, 0.9], [1, 1, 1, 1], "GGGG"),  # all equal: nobody is worst
        ([1.0, 0.9, 0.8, 0.8, 0.8, 0.5], [1, 2, 3, 3, 3, 6], "GGBBBB"),  # the 2nd worst ties with two
        ([1.0, 0.9, 0.8, 0.7, 0.5, 0.5], [1, 2, 3, 4, 5, 5], "GGMMBB"),
        ([1.0, 0.9, 0.8, 0.7, 0.6, 0.6, 0.6], [1, 2, 3, 4, 5, 5, 5], "GGMMBBB"),
    ],
)
def test_equal_scores_share_a_place_and_a_colour(scores: list[float], ranks: list[int], colours: str) -> None:
    rows, _ = charts._ranked([department(i, f"部门{i}", s) for i, s in enumerate(scores)])
    assert [r.rank for r in rows] == ranks
    names = {charts.GOOD: "G", charts.BAD: "B", charts.MIDDLE: "M"}
    assert "".join(names[c] for c in charts._bar_colours(rows)) == colours
