"""A small PDF document builder on reportlab: headings, generated text, figures, tables.

Fonts are DejaVu Sans, shipped with matplotlib, so that symbols such as ρ, ×, ≤ and ✓
print. A banner (e.g. "stand-in model") can be drawn on every page.

Figures are embedded at print resolution (:data:`PRINT_DPI` at the size they print),
photographs as JPEG, plots as PNG, so a report stays small enough to share. A report
has a main part (what a reader needs) and an appendix after a page break
(:meth:`Report.appendix`); the number of main pages is kept in the PDF's metadata, and
:func:`merge_pdfs` puts every report's main part first."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib
from PIL import Image as PILImage
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from explainlab import runfolder
from explainlab.report.markup import text

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 1.8 * cm
TEXT_WIDTH = PAGE_WIDTH - 2 * MARGIN
PRINT_DPI = 200  # pixels per inch of a figure at the size it prints
JPEG_QUALITY = 80  # sharp at 200 dpi; 88 made report 4 (ten 3-method panels) 3.1 MB
PHOTO_COLOURS = 4096  # more distinct colours than this (in a thumbnail): a photograph
MAIN_PAGES_KEY = "/ExplainlabMainPages"  # PDF metadata: pages before the appendix
_FONTS_READY = False


def _register_fonts() -> None:
    global _FONTS_READY
    if _FONTS_READY:
        return
    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    for name, file in (
        ("DejaVu", "DejaVuSans.ttf"),
        ("DejaVu-Bold", "DejaVuSans-Bold.ttf"),
        ("DejaVu-Oblique", "DejaVuSans-Oblique.ttf"),
        ("DejaVu-BoldOblique", "DejaVuSans-BoldOblique.ttf"),
    ):
        pdfmetrics.registerFont(TTFont(name, str(folder / file)))
    pdfmetrics.registerFontFamily(
        "DejaVu",
        normal="DejaVu",
        bold="DejaVu-Bold",
        italic="DejaVu-Oblique",
        boldItalic="DejaVu-BoldOblique",
    )
    _FONTS_READY = True


def _styles() -> dict[str, ParagraphStyle]:
    _register_fonts()
    base = getSampleStyleSheet()
    body = ParagraphStyle(
        "body", parent=base["BodyText"], fontName="DejaVu", fontSize=9.5, leading=12.5, spaceAfter=5
    )
    return {
        "title": ParagraphStyle(
            "title",
            parent=base["Title"],
            fontName="DejaVu-Bold",
            fontSize=17,
            leading=21,
            spaceAfter=4,
        ),
        "subtitle": ParagraphStyle(
            "subtitle", parent=body, alignment=TA_CENTER, textColor=colors.grey, spaceAfter=10
        ),
        "h1": ParagraphStyle(
            "h1",
            parent=base["Heading2"],
            fontName="DejaVu-Bold",
            fontSize=12.5,
            leading=15,
            spaceBefore=8,
            spaceAfter=4,
        ),
        "h2": ParagraphStyle(
            "h2",
            parent=base["Heading3"],
            fontName="DejaVu-Bold",
            fontSize=10.5,
            leading=13,
            spaceBefore=6,
            spaceAfter=3,
        ),
        "body": body,
        "caption": ParagraphStyle(
            "caption",
            parent=body,
            fontSize=8,
            leading=10,
            textColor=colors.HexColor("#444444"),
            spaceAfter=8,
        ),
        "cell": ParagraphStyle("cell", parent=body, fontSize=7.5, leading=9, spaceAfter=0),
        "bullet": ParagraphStyle(
            "bullet", parent=body, leftIndent=12, bulletIndent=2, spaceAfter=2
        ),
    }


CELL_PADDING = 12.0  # points: reportlab's default 6 pt on each side of a table cell
MIN_CELL_FONT_PT = 6.5  # a table's text shrinks to this before a word would be broken
CELL_FONT_STEP = 0.25  # points: how far each try shrinks it


def word_widths(
    header: Sequence[str], rows: Sequence[Sequence[Any]], font_size: float
) -> list[float]:
    """Per column, the width its widest word needs at ``font_size`` (headers bold), with
    the cell's padding: a cell is wrapped only at spaces, never inside a word."""
    _register_fonts()
    need = []
    for i, h in enumerate(header):
        words = [(w, "DejaVu-Bold") for w in h.split()]
        words += [(w, "DejaVu") for row in rows for w in str(row[i]).split()]
        need.append(
            max((pdfmetrics.stringWidth(w, f, font_size) for w, f in words), default=0.0)
            + CELL_PADDING
        )
    return need


def fit_columns(widths: Sequence[float], need: Sequence[float]) -> list[float] | None:
    """Column widths widened to what their words ``need``, the width taken from columns
    with room to spare, in proportion to their spare room (None: not enough room)."""
    widths = list(widths)
    short = sum(max(0.0, n - w) for n, w in zip(need, widths, strict=True))
    spare = [max(0.0, w - n) for n, w in zip(need, widths, strict=True)]
    if short == 0:
        return widths
    if sum(spare) < short:
        return None
    return [
        max(w, n) if n > w else w - short * room / sum(spare)
        for n, w, room in zip(need, widths, spare, strict=True)
    ]


def table_layout(
    widths: Sequence[float] | None,
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    font_size: float,
) -> tuple[list[float] | None, float]:
    """The column widths and font size at which no word of a table is broken: the
    widths given, refitted (:func:`fit_columns`), at the largest size from ``font_size``
    down to :data:`MIN_CELL_FONT_PT` where the words fit the table's width (the text width
    when reportlab sizes the columns, ``widths`` None); below that, columns widened."""
    size = font_size
    while True:
        need = word_widths(header, rows, size)
        if widths is None:
            if sum(need) <= TEXT_WIDTH or size <= MIN_CELL_FONT_PT:
                return None, size
        elif (fitted := fit_columns(widths, need)) is not None:
            return fitted, size
        elif size <= MIN_CELL_FONT_PT:
            return [max(w, n) for w, n in zip(widths, need, strict=True)], size
        size = max(MIN_CELL_FONT_PT, size - CELL_FONT_STEP)


def is_photo(image: PILImage.Image) -> bool:
    """Many distinct colours: a photograph (or photo panels), which JPEG keeps sharp at a
    fraction of PNG's size; plots have few colours and stay PNG."""
    thumb = image.convert("RGB")
    thumb.thumbnail((256, 256))
    return len(thumb.getcolors(maxcolors=256 * 256) or range(PHOTO_COLOURS + 1)) > PHOTO_COLOURS


def print_ready(path: Path, width: float, height: float, photo: bool | None = None) -> io.BytesIO:
    """``path`` resampled to :data:`PRINT_DPI` at ``width`` x ``height`` points (never
    enlarged), as JPEG when it is a photograph, else PNG."""
    with PILImage.open(path) as opened:
        image = opened.convert("RGBA" if opened.mode in ("RGBA", "LA", "P") else "RGB")
    target = (max(1, round(width / 72 * PRINT_DPI)), max(1, round(height / 72 * PRINT_DPI)))
    if target[0] < image.width:
        image = image.resize(target, PILImage.Resampling.LANCZOS)
    out = io.BytesIO()
    if photo if photo is not None else is_photo(image):
        flat = PILImage.new("RGB", image.size, "white")
        flat.paste(image, mask=image.getchannel("A") if image.mode == "RGBA" else None)
        flat.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    else:
        image.save(out, format="PNG", optimize=True)
    out.seek(0)
    return out


class _AppendixMark(Flowable):
    """Zero-size: records the page the appendix starts on when it is drawn."""

    def __init__(self, report: Report) -> None:
        super().__init__()
        self.report = report
        self.width = self.height = 0

    def draw(self) -> None:
        self.report.main_pages = self.canv.getPageNumber() - 1


@dataclass(kw_only=True)
class Report:
    """A report under construction; ``save(path)`` writes the PDF atomically."""

    title: str
    subtitle: str = ""
    banner: str = ""  # drawn on every page when set (e.g. the stand-in model)
    footer: str = ""
    story: list[Any] = field(default_factory=list)
    main_pages: int = 0  # pages before the appendix (0: no appendix), known once saved
    placed: list[tuple[Path, float]] = field(default_factory=list)  # figure, print/drawn size
    cells: list[str] = field(default_factory=list)  # every table cell's text, headers too

    def __post_init__(self) -> None:
        self.styles = _styles()
        self.story.append(Paragraph(text(self.title), self.styles["title"]))
        if self.subtitle:
            self.story.append(Paragraph(text(self.subtitle), self.styles["subtitle"]))

    def heading(self, value: str, level: int = 1) -> None:
        self.story.append(Paragraph(text(value), self.styles["h1" if level == 1 else "h2"]))

    def paragraph(self, markup: str) -> None:
        """A paragraph; ``markup`` may use <b>, <i>; escape data with :func:`text`."""
        self.story.append(Paragraph(markup, self.styles["body"]))

    def bullets(self, items: Sequence[str]) -> None:
        for item in items:
            self.story.append(Paragraph(item, self.styles["bullet"], bulletText="•"))

    def figure(
        self,
        path: Path,
        caption: str = "",
        width: float | None = None,
        max_height: float = 0.62 * PAGE_HEIGHT,
        photo: bool | None = None,
    ) -> None:
        """The image at ``path``, ``width`` points wide (default: the size it was drawn
        at, at most the text width; less if ``max_height`` needs), embedded at print
        resolution; ``photo`` None: told by its colours. Where it prints against the size
        it was drawn at is kept in :attr:`placed` (a figure's fonts shrink with it)."""
        with PILImage.open(path) as im:
            w, h = im.size
            dpi = float((im.info.get("dpi") or (72.0, 72.0))[0]) or 72.0
        drawn = w / dpi * 72  # points
        scale = min((width or min(drawn, TEXT_WIDTH)) / w, max_height / h)
        size = (w * scale, h * scale)
        self.placed.append((Path(path), size[0] / drawn))
        data = print_ready(Path(path), *size, photo=photo)
        parts: list[Any] = [Image(data, width=size[0], height=size[1])]
        if caption:
            parts.append(Paragraph(caption, self.styles["caption"]))
        self.story.append(KeepTogether(parts))

    def table(
        self,
        rows: Sequence[Sequence[Any]],
        header: Sequence[str],
        col_widths: Sequence[float] | None = None,
        caption: str = "",
    ) -> None:
        widths, size = table_layout(col_widths, header, rows, self.styles["cell"].fontSize)
        cell = ParagraphStyle(
            f"cell{size:g}",
            parent=self.styles["cell"],
            fontSize=size,
            leading=size * 1.2,
            splitLongWords=0,  # a word that does not fit stays whole (see table_layout)
        )
        data = [[Paragraph(f"<b>{text(h)}</b>", cell) for h in header]]
        data += [[Paragraph(text(v), cell) for v in row] for row in rows]
        self.cells += [*map(str, header), *(str(v) for row in rows for v in row)]
        table = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
        table.setStyle(
            TableStyle(
                [
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8f0")),
                    ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#b0b0b0")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    (
                        "ROWBACKGROUNDS",
                        (0, 1),
                        (-1, -1),
                        [colors.white, colors.HexColor("#f7f7f7")],
                    ),
                    ("TOPPADDING", (0, 0), (-1, -1), 2),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                ]
            )
        )
        parts: list[Any] = [table]
        if caption:
            parts.append(Paragraph(caption, self.styles["caption"]))
        else:
            parts.append(Spacer(1, 6))
        self.story.append(KeepTogether(parts) if len(rows) < 25 else table)

    def page_break(self) -> None:
        self.story.append(PageBreak())

    def appendix(self, title: str = "Appendix") -> None:
        """End the main part: what follows starts on a new page, after ``title``."""
        self.story += [PageBreak(), _AppendixMark(self)]
        self.heading(title)

    def _decorate(self, canvas: Any, doc: Any) -> None:
        canvas.saveState()
        if self.banner:
            canvas.setFillColor(colors.HexColor("#fff1cc"))
            canvas.setStrokeColor(colors.HexColor("#c77700"))
            height = 0.75 * cm
            canvas.rect(
                MARGIN, PAGE_HEIGHT - MARGIN + 0.15 * cm, TEXT_WIDTH, height, fill=1, stroke=1
            )
            canvas.setFillColor(colors.HexColor("#7a4200"))
            canvas.setFont("DejaVu-Bold", 8.5)
            canvas.drawCentredString(
                PAGE_WIDTH / 2, PAGE_HEIGHT - MARGIN + 0.42 * cm, self.banner[:140]
            )
        canvas.setFont("DejaVu", 7.5)
        canvas.setFillColor(colors.grey)
        canvas.drawString(MARGIN, 1.0 * cm, self.footer[:120])
        canvas.drawRightString(PAGE_WIDTH - MARGIN, 1.0 * cm, f"page {doc.page}")
        canvas.restoreState()

    def save(self, path: Path) -> Path:
        with runfolder.atomic_path(Path(path)) as tmp:
            doc = SimpleDocTemplate(
                str(tmp),
                pagesize=A4,
                leftMargin=MARGIN,
                rightMargin=MARGIN,
                topMargin=MARGIN + (0.9 * cm if self.banner else 0),
                bottomMargin=MARGIN,
                title=self.title,
                author="explainlab",
                subject=self.subtitle,
            )
            doc.build(self.story, onFirstPage=self._decorate, onLaterPages=self._decorate)
            if self.main_pages:
                _set_main_pages(tmp, self.main_pages)
        return Path(path)


def _set_main_pages(path: Path, pages: int) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(str(path)))
    writer.add_metadata({MAIN_PAGES_KEY: str(pages)})
    buffer = io.BytesIO()
    writer.write(buffer)
    Path(path).write_bytes(buffer.getvalue())


def main_pages(reader: Any) -> int:
    """The main part's page count of a report (all its pages when it has no appendix)."""
    value = (reader.metadata or {}).get(MAIN_PAGES_KEY)
    try:
        return min(int(value), len(reader.pages)) if value else len(reader.pages)
    except (TypeError, ValueError):
        return len(reader.pages)


def merge_pdfs(paths: Sequence[Path], out: Path) -> Path:
    """One PDF of several reports, atomically: every report's main part first (in order),
    then their appendices, with an outline entry for each part."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    readers = [(Path(p), PdfReader(str(p))) for p in paths]
    parts = [(p, r, 0, main_pages(r), "") for p, r in readers]
    parts += [(p, r, main_pages(r), len(r.pages), " (appendix)") for p, r in readers]
    for path, reader, first, last, suffix in parts:
        if first >= last:
            continue
        start = len(writer.pages)
        for page in reader.pages[first:last]:
            writer.add_page(page)
        title = (reader.metadata.title if reader.metadata else None) or path.stem
        writer.add_outline_item(title=title + suffix, page_number=start)
    with runfolder.atomic_path(Path(out)) as tmp, open(tmp, "wb") as f:
        writer.write(f)
    return Path(out)
