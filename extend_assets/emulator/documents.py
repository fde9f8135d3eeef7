"""From downloaded bytes to text, or to the failure code Extend would report."""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

TEXT_TYPES = {".txt": "TXT", ".md": "TXT", ".lis": "TXT", ".rtf": "TXT", ".eml": "TXT",
              ".csv": "CSV", ".html": "HTML", ".xml": "XML"}  # fmt: skip
IMAGE_TYPES = {".png", ".jpg", ".jpeg", ".tiff", ".tif", ".svg", ".heic", ".heif", ".bmp",
               ".gif", ".webp", ".psd", ".pcx"}  # fmt: skip
OFFICE_TYPES = {".xls": "EXCEL", ".xlsx": "EXCEL", ".xltm": "EXCEL", ".xltx": "EXCEL",
                ".ods": "EXCEL", ".docx": "DOCX", ".doc": "DOCX", ".wpd": "DOCX",
                ".dotx": "DOCX", ".odt": "DOCX", ".pptx": "PDF", ".ppt": "PDF", ".ppm": "PDF"}  # fmt: skip
DEFAULT_MAX_FILE_BYTES = 100 * 1024 * 1024
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Document:
    text: str | None
    file_type: str | None
    page_count: int | None
    failure_code: str | None = None
    failure_detail: str = ""


def extension_of(name: str) -> str:
    """The lower-cased extension of a file *name* (a ``?`` in it is part of the name:
    URLs are reduced to names before they get here)."""
    return PurePosixPath(name).suffix.lower()


def read_document(name: str, body: bytes, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> Document:
    ext = extension_of(name)
    if ext == ".pdf":
        file_type: str | None = "PDF"
    elif ext in TEXT_TYPES:
        file_type = TEXT_TYPES[ext]
    elif ext in IMAGE_TYPES:
        file_type = "IMG"
    elif ext in OFFICE_TYPES:
        file_type = OFFICE_TYPES[ext]
    else:
        return _failed(None, "FILE_TYPE_NOT_SUPPORTED", f"'{ext or name}' files are not supported")
    if len(body) > max_bytes:
        return _failed(file_type, "FILE_SIZE_TOO_LARGE", f"{len(body)} bytes is over {max_bytes}")
    if not body:
        return _failed(file_type, "CORRUPT_FILE", "the file is empty (0 bytes)")
    if ext == ".pdf":
        return _read_pdf(body)
    if file_type == "IMG":
        return _failed(file_type, "OCR_ERROR", "no text could be read from the image")
    if ext in OFFICE_TYPES:
        return _failed(file_type, "FAILED_TO_CONVERT_TO_PDF", "the emulator reads no office files")
    text = body.decode("utf-8", errors="replace")
    if file_type in ("HTML", "XML"):
        text = html.unescape(_TAG.sub("\n", text))
    return Document(text=text, file_type=file_type, page_count=None)


def _read_pdf(body: bytes) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if not body.lstrip().startswith(b"%PDF"):
        return _failed("PDF", "CORRUPT_FILE", "not a PDF (no %PDF header)")
    try:
        reader = PdfReader(io.BytesIO(body))
        if reader.is_encrypted:
            try:
                opened = bool(reader.decrypt(""))
            except Exception:
                opened = False
            if not opened:
                return _failed("PDF", "PASSWORD_PROTECTED_FILE", "the PDF needs a password")
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as error:
        return _failed("PDF", "CORRUPT_FILE", f"the PDF cannot be parsed ({type(error).__name__})")
    except Exception as error:  # pypdf raises many kinds on broken files
        if "password" in str(error).lower() or "decrypt" in str(error).lower():
            return _failed("PDF", "PASSWORD_PROTECTED_FILE", "the PDF needs a password")
        return _failed("PDF", "CORRUPT_FILE", f"the PDF cannot be parsed ({type(error).__name__})")
    text = "\n".join(pages)
    if not text.strip():
        return Document(
            text=None,
            file_type="PDF",
            page_count=len(pages),
            failure_code="OCR_ERROR",
            failure_detail="no text layer could be read (a scanned image?)",
        )
    return Document(text=text, file_type="PDF", page_count=len(pages))


def _failed(file_type: str | None, code: str, detail: str) -> Document:
    return Document(text=None, file_type=file_type, page_count=None, failure_code=code,
                    failure_detail=detail)  # fmt: skip
