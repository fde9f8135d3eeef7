"""A deterministic corpus of invoices and receipts with the ground truth for each.

Documents are written so that the emulator's rules (see ``invoice_workflow.yaml``)
read back exactly the truth for the well-formed ones, and so that the awkward ones
fail (or are skipped) with a known code. Same seed, same bytes.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from extend_assets.samples import render

VENDORS = (
    ("Acme Supplies Ltd", "1 Market Street, Leeds"),
    ("Globex Corporation", "500 Spring Ave, Springfield"),
    ("Initech LLC", "4120 Freidrich Ln, Austin"),
    ("Umbrella Office Goods", "88 Raccoon Rd, Denver"),
    ("Northwind Traders", "12 Harbour Way, Seattle"),
    ("Müller & Söhne GmbH", "Hauptstraße 5, München"),
    ("Société Générale de Papeterie", "9 rue de la Paix, Paris"),
    ("Nordisk Kontor ÅB", "Storgatan 3, Malmö"),
)
NON_LATIN_VENDORS = (
    ("Café Ōsaka 株式会社", "大阪市北区梅田1-1"),
    ("Δέλτα Προμήθειες", "Οδός Ερμού 10, Αθήνα"),
    ("Торговый дом Север", "Невский проспект 1, Санкт-Петербург"),
)
CUSTOMERS = (
    ("Contoso Analytics", "77 Data Drive, Boston"),
    ("Fabrikam Inc", "3 Lake View, Chicago"),
    ("Tailspin Toys", "21 Runway Rd, Atlanta"),
    ("Wide World Importers", "8 Dock St, Portland"),
)
PRODUCTS = (
    ("Copy paper A4", "PAP-A4"),
    ("Ballpoint pens (box)", "PEN-BX"),
    ("Stapler heavy duty", "STP-HD"),
    ("Laser toner black", "TON-BK"),
    ("Desk organiser", "DSK-OR"),
    ("USB-C cable 2m", "USB-C2"),
    ("Whiteboard markers", "WBM-04"),
    ("Consulting hour", "SRV-HR"),
    ("Ergonomic chair", "CHR-ER"),
    ("Monitor stand", "MON-ST"),
)
CURRENCIES = ("USD", "EUR", "GBP")
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}
TERMS = (("Net 15", "NET_15"), ("Net 30", "NET_30"), ("Net 60", "NET_60"))
DATE_STYLES = ("%Y-%m-%d", "%B %d, %Y", "%d %b %Y", "%d.%m.%Y")
FORMATS = (("pdf", 0.35), ("txt", 0.25), ("md", 0.25), ("csv", 0.15))
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "txt": "text/plain; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "zip": "application/zip",
    "": "application/x-directory",
}


@dataclass
class SampleDocument:
    key: str
    partition: str
    body: bytes = field(repr=False)
    content_type: str
    truth: dict[str, Any]


def generate_corpus(
    count: int,
    *,
    days: int = 3,
    seed: int = 7,
    end_date: date = date(2025, 1, 15),
    prefix: str = "invoices/",
    awkward: bool = True,
) -> list[SampleDocument]:
    """``count`` documents over ``days`` daily prefixes ending at ``end_date``.

    With ``awkward`` (and at least 12 documents) the first ones are the hard cases:
    multi-page, zero-byte, corrupt, password-protected, scanned, unsupported (.zip),
    a folder marker, one that needs review, non-Latin vendors, and a CSV.
    """
    if count < 0 or days < 1:
        raise ValueError("count must be >= 0 and days >= 1")
    rng = random.Random(seed)
    partitions = [(end_date - timedelta(days=days - 1 - i)).isoformat() for i in range(days)]
    kinds = list(AWKWARD) if awkward and count >= len(AWKWARD) + 2 else []
    docs: list[SampleDocument] = []
    for number in range(count):
        partition = partitions[number % days]
        kind = kinds[number] if number < len(kinds) else "regular"
        docs.append(_document(rng, number, partition, prefix, kind))
    return docs


AWKWARD = (
    "multipage",
    "zero_byte",
    "corrupt",
    "password",
    "scanned",
    "zip",
    "folder",
    "review",
    "non_latin_txt",
    "non_latin_md",
    "csv",
    "receipt_md",
)


def _document(
    rng: random.Random, number: int, partition: str, prefix: str, kind: str
) -> SampleDocument:
    base = f"{prefix}{partition}/"
    failure = {
        "zero_byte": ("empty-scan.pdf", b"", "CORRUPT_FILE"),
        "corrupt": (
            "broken-upload.pdf",
            b"this upload was cut off mid-transfer\x00\x01",
            "CORRUPT_FILE",
        ),
        "password": ("protected.pdf", b"", "PASSWORD_PROTECTED_FILE"),
        "scanned": ("scanned-fax.pdf", b"", "OCR_ERROR"),
    }
    if kind in failure:
        name, body, code = failure[kind]
        if kind == "password":
            body = render.render_pdf(
                "INVOICE", [("Invoice Number", "SECRET")], [], "x", password="s3cret"
            )
        elif kind == "scanned":
            body = render.render_scanned_pdf()
        name = f"{number:06d}-{name}"
        return _doc(base + name, partition, body, "pdf", "FAILED", code, None, None)
    if kind == "zip":
        return _doc(base + f"{number:06d}-archive.zip", partition, b"PK\x03\x04 not extracted", "zip",
                    "SKIPPED", None, None, None)  # fmt: skip
    if kind == "folder":
        return _doc(base + "scans/", partition, b"", "", "SKIPPED", None, None, None)

    receipt = kind == "receipt_md" or (kind == "regular" and rng.random() < 0.2)
    fmt = {"multipage": "pdf", "review": "md", "non_latin_txt": "txt", "non_latin_md": "md",
           "csv": "csv", "receipt_md": "md"}.get(kind) or _pick_format(rng)  # fmt: skip
    vendors: tuple[tuple[str, str], ...] = (
        NON_LATIN_VENDORS if kind.startswith("non_latin") else VENDORS
    )
    if fmt == "pdf":  # the PDF core fonts are Latin-1 only
        vendors = tuple(v for v in vendors if _latin1(v[0]) and _latin1(v[1])) or VENDORS[:5]
    items = 24 if kind == "multipage" else rng.randint(1, 30 if rng.random() < 0.1 else 8)
    doc = _business_document(
        rng, number, partition, receipt, vendors, items, fmt, unsure=kind == "review"
    )
    title, fields, rows, footer, value, doc_type = doc
    name = f"{number:06d}-{'receipt' if receipt else 'invoice'}-{value['invoice_number'] or number}.{fmt}"
    if fmt == "pdf":
        body = render.render_pdf(
            title, fields, rows, footer, min_pages=3 if kind == "multipage" else 1
        )
    elif fmt == "md":
        body = render.render_markdown(title, fields, rows, footer)
    elif fmt == "csv":
        body = render.render_csv(title, fields, rows, footer)
    else:
        body = render.render_text(title, fields, rows, footer)
    status = "NEEDS_REVIEW" if kind == "review" else "PROCESSED"
    return _doc(base + name, partition, body, fmt, status, None, doc_type, value)


def _business_document(
    rng: random.Random,
    number: int,
    partition: str,
    receipt: bool,
    vendors: Sequence[tuple[str, str]],
    item_count: int,
    fmt: str,
    unsure: bool,
) -> tuple[str, list[render.Line], list[render.Row], str, dict[str, Any], str]:
    # Long: one invoice or receipt laid out field by field, as data; splitting it would
    # scatter one document's shape over several functions.
    currency = rng.choice(CURRENCIES)
    issued = date.fromisoformat(partition) - timedelta(days=rng.randint(0, 20))
    vendor = rng.choice(vendors)
    customer = rng.choice(CUSTOMERS)
    items: list[dict[str, Any]] = []
    for _ in range(item_count):
        product, sku = rng.choice(PRODUCTS)
        quantity = float(rng.randint(1, 12))
        unit = round(rng.uniform(1, 400), 2)
        items.append({"description": product, "sku": sku, "quantity": quantity,
                      "unit_price": unit, "amount": round(quantity * unit, 2)})  # fmt: skip
    subtotal = round(sum(i["amount"] for i in items), 2)
    rate = rng.choice((0.0, 5.0, 7.5, 8.25, 10.0, 20.0))
    tax = round(subtotal * rate / 100, 2)
    total = round(subtotal + tax, 2)
    money = lambda amount: _money(rng, amount, currency, fmt)  # noqa: E731
    value: dict[str, Any] = {
        "invoice_number": None if receipt else f"INV-{number:06d}",
        "invoice_date": None if receipt else issued.isoformat(),
        "due_date": None,
        "purchase_order": None,
        "vendor": {"name": vendor[0], "address": vendor[1], "tax_id": None, "email": None},
        "customer": {"name": None, "address": None},
        "subtotal": {"amount": subtotal, "iso_4217_currency_code": currency},
        "tax": {"amount": tax, "iso_4217_currency_code": currency},
        "total": {"amount": total, "iso_4217_currency_code": currency},
        "tax_rate": rate,
        "payment_terms": "DUE_ON_RECEIPT" if receipt else None,
        "is_paid": receipt,
        "notes": None,
        "line_items": items,
    }
    fields: list[render.Line] = []
    if not receipt:
        terms_text, terms = rng.choice(TERMS)
        due = issued + timedelta(days=int(terms.split("_")[1]))
        value.update(due_date=due.isoformat(), payment_terms=terms)
        value["customer"] = {"name": customer[0], "address": customer[1]}
        fields += [("Invoice Number", value["invoice_number"]), ("Invoice Date", _date(rng, issued)),
                   ("Due Date", _date(rng, due))]  # fmt: skip
        if rng.random() < 0.5:
            value["purchase_order"] = f"PO-{rng.randint(1000, 9999)}"
            fields.append(("PO Number", value["purchase_order"]))
        fields += [("Bill To", customer[0]), ("Billing Address", customer[1])]
    fields += [("Vendor Name", vendor[0]), ("Vendor Address", vendor[1])]
    if rng.random() < 0.5:
        value["vendor"]["tax_id"] = f"TX-{rng.randint(100000, 999999)}"
        fields.append(("Vendor Tax ID", value["vendor"]["tax_id"]))
    if rng.random() < 0.3:
        value["vendor"]["email"] = f"billing{rng.randint(1, 99)}@example.com"
        fields.append(("Vendor Email", value["vendor"]["email"]))
    fields += [("Subtotal", money(subtotal)), ("Tax Rate", f"{rate:g}%"), ("Tax", money(tax)),
               ("Total", money(total) + (" (?)" if unsure else ""))]  # fmt: skip
    fields.append(("Payment Terms", "Due on receipt" if receipt else terms_text))
    fields.append(("Paid", "Yes" if receipt else "No"))
    if rng.random() < 0.3 and not receipt:
        value["notes"] = f"Deliver to dock {rng.randint(1, 9)}"
        fields.append(("Notes", value["notes"]))
    rows: list[render.Row] = [[i["description"], i["sku"], f"{i['quantity']:g}", f"{i['unit_price']:,.2f}",
             f"{i['amount']:,.2f}"] for i in items]  # fmt: skip
    title = "RECEIPT" if receipt else "INVOICE"
    footer = "Thank you for your purchase" if receipt else "Please remit by the due date"
    return title, fields, rows, footer, value, "receipt" if receipt else "invoice"


def _money(rng: random.Random, amount: float, currency: str, fmt: str) -> str:
    styles = ["{a} {c}", "{c} {a}"] + ([] if fmt == "pdf" else ["{s}{a}"])
    style = rng.choice(styles)
    if style == "{s}{a}" and currency not in SYMBOLS:
        style = "{a} {c}"
    return style.format(a=f"{amount:,.2f}", c=currency, s=SYMBOLS.get(currency, ""))


def _date(rng: random.Random, day: date) -> str:
    styles = list(DATE_STYLES) + (["%d/%m/%Y"] if day.day > 12 else [])
    return day.strftime(rng.choice(styles))


def _pick_format(rng: random.Random) -> str:
    roll, acc = rng.random(), 0.0
    for fmt, share in FORMATS:
        acc += share
        if roll < acc:
            return fmt
    return FORMATS[-1][0]


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _doc(
    key: str,
    partition: str,
    body: bytes,
    fmt: str,
    status: str,
    failure: str | None,
    doc_type: str | None,
    value: dict[str, Any] | None,
) -> SampleDocument:
    truth = {
        "key": key,
        "partition": partition,
        "expected_status": status,
        "expected_failure_code": failure,
        "document_type": doc_type,
        "value": value,
    }
    return SampleDocument(key, partition, body, CONTENT_TYPES[fmt], truth)


def write_corpus(docs: Sequence[SampleDocument], directory: str | Path) -> Path:
    """Files under ``directory`` plus ``ground_truth.jsonl``; returns the truth file."""
    root = Path(directory)
    for doc in docs:
        path = root / doc.key
        if doc.key.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(doc.body)
    truth = root / "ground_truth.jsonl"
    with truth.open("w", encoding="utf-8") as out:
        for doc in docs:
            out.write(json.dumps(doc.truth, ensure_ascii=False) + "\n")
    return truth


def upload_corpus(
    docs: Sequence[SampleDocument], s3_client: Any, bucket: str, workers: int = 8
) -> int:
    """Upload with a few threads (boto3 clients are thread-safe); returns bytes sent."""

    def put(doc: SampleDocument) -> int:
        s3_client.put_object(
            Bucket=bucket, Key=doc.key, Body=doc.body, ContentType=doc.content_type
        )
        return len(doc.body)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return sum(pool.map(put, docs))
