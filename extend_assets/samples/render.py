"""Writers for the sample documents: PDF (real text layer), plain text, Markdown, CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fpdf import FPDF

ITEM_HEADER = ("Description", "SKU", "Quantity", "Unit Price", "Amount")
Line = tuple[str, str]  # (label, value)
Row = Sequence[str]

# fpdf stamps the wall clock into every PDF (and derives the file id and the
# encryption key from it); a fixed date keeps the corpus byte-for-byte
# reproducible from its seed.
PDF_CREATION_DATE = datetime(2025, 1, 1, tzinfo=UTC)


def _new_pdf() -> FPDF:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_creation_date(PDF_CREATION_DATE)
    return pdf


def table_lines(rows: Sequence[Row]) -> list[str]:
    return ["| " + " | ".join(ITEM_HEADER) + " |", "|---|---|---|---|---|"] + [
        "| " + " | ".join(row) + " |" for row in rows
    ]


def render_text(title: str, fields: Sequence[Line], rows: Sequence[Row], footer: str) -> bytes:
    lines = [title, "=" * len(title), ""]
    lines += [f"{label}: {value}" for label, value in fields]
    if rows:
        lines += ["", *table_lines(rows)]
    lines += ["", footer, ""]
    return "\n".join(lines).encode("utf-8")


def render_markdown(title: str, fields: Sequence[Line], rows: Sequence[Row], footer: str) -> bytes:
    lines = [f"# {title}", ""]
    lines += [f"- **{label}:** {value}" for label, value in fields]
    if rows:
        lines += ["", "## Items", "", *table_lines(rows)]
    lines += ["", f"_{footer}_", ""]
    return "\n".join(lines).encode("utf-8")


def render_csv(title: str, fields: Sequence[Line], rows: Sequence[Row], footer: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([title])
    for label, value in fields:
        writer.writerow([label, value])
    if rows:
        writer.writerow(ITEM_HEADER)
        writer.writerows(rows)
    writer.writerow([footer])
    return out.getvalue().encode("utf-8")


def render_pdf(
    title: str,
    fields: Sequence[Line],
    rows: Sequence[Row],
    footer: str,
    *,
    min_pages: int = 1,
    password: str | None = None,
) -> bytes:
    """A PDF whose text layer reads back (pypdf) as the same lines as the text form."""
    pdf = _new_pdf()
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    lines = [title, *(f"{label}: {value}" for label, value in fields)]
    if rows:
        lines += table_lines(rows)
    lines.append(footer)
    for line in lines:
        pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    while pdf.page_no() < min_pages:
        pdf.add_page()
        pdf.cell(
            0,
            6,
            f"Page {pdf.page_no()}: terms and conditions apply.",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    if password:
        pdf.set_encryption(owner_password=password + "-owner", user_password=password)
    return bytes(pdf.output())


def render_scanned_pdf() -> bytes:
    """A 'scan': shapes only, no text layer at all."""
    pdf = _new_pdf()
    pdf.add_page()
    for i in range(12):
        pdf.rect(15, 20 + i * 12, 120 + (i * 7) % 50, 6, style="F")
    return bytes(pdf.output())
