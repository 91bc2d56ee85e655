"""A small PDF document builder on reportlab: headings, generated text, figures, tables.

Fonts are DejaVu Sans, shipped with matplotlib, so that symbols such as ρ, ×, ≤ and ✓
print. A banner (e.g. "stand-in model") can be drawn on every page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
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

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 1.8 * cm
TEXT_WIDTH = PAGE_WIDTH - 2 * MARGIN
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


def text(value: Any) -> str:
    """Escape a value for a reportlab paragraph (which reads a small XML subset)."""
    return escape(str(value), quote=False)


CELL_PADDING = 12.0  # points: reportlab's default 6 pt on each side of a table cell


def header_fit(widths: Sequence[float], header: Sequence[str], font_size: float) -> list[float]:
    """Column widths widened so that no header word is broken mid-word ("sampl/es"), the
    width taken from columns with room to spare, in proportion to their spare room."""
    _register_fonts()
    need = [
        max(pdfmetrics.stringWidth(w, "DejaVu-Bold", font_size) for w in h.split() or [""])
        + CELL_PADDING
        for h in header
    ]
    widths = list(widths)
    short = sum(max(0.0, n - w) for n, w in zip(need, widths, strict=True))
    spare = [max(0.0, w - n) for n, w in zip(need, widths, strict=True)]
    if short == 0 or sum(spare) < short:
        return widths
    return [
        max(w, n) if n > w else w - short * room / sum(spare)
        for n, w, room in zip(need, widths, spare, strict=True)
    ]


@dataclass
class Report:
    """A report under construction; ``save(path)`` writes the PDF atomically."""

    title: str
    subtitle: str = ""
    banner: str = ""  # drawn on every page when set (e.g. the stand-in model)
    footer: str = ""
    story: list[Any] = field(default_factory=list)

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
        width: float = TEXT_WIDTH,
        max_height: float = 0.62 * PAGE_HEIGHT,
    ) -> None:
        with PILImage.open(path) as im:
            w, h = im.size
        scale = min(width / w, max_height / h)
        parts: list[Any] = [Image(str(path), width=w * scale, height=h * scale)]
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
        cell = self.styles["cell"]
        if col_widths is not None:
            col_widths = header_fit(col_widths, header, cell.fontSize)
        data = [[Paragraph(f"<b>{text(h)}</b>", cell) for h in header]]
        data += [[Paragraph(text(v), cell) for v in row] for row in rows]
        table = Table(data, colWidths=col_widths, repeatRows=1, hAlign="LEFT")
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
        return Path(path)


def merge_pdfs(paths: Sequence[Path], out: Path) -> Path:
    """Concatenate PDFs (with one outline entry per part) into ``out``, atomically."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for path in paths:
        reader = PdfReader(str(path))
        start = len(writer.pages)
        for page in reader.pages:
            writer.add_page(page)
        title = (reader.metadata.title if reader.metadata else None) or Path(path).stem
        writer.add_outline_item(title=title, page_number=start)
    with runfolder.atomic_path(Path(out)) as tmp, open(tmp, "wb") as f:
        writer.write(f)
    return Path(out)
