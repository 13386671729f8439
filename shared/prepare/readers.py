"""Rows out of an export: CSV / TSV (any delimiter `csv.Sniffer` recognises), Excel `.xlsx`, and
chat JSONL (`messages` or `contents`), each read as a stream.

A reader yields `Row`s (one message) or, for JSONL, `Example`s (one whole conversation per line).
CSV and JSONL are read incrementally from any binary stream; `.xlsx` is a ZIP archive that needs
a seekable file, which openpyxl then reads row by row in read-only mode.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, BinaryIO, Literal

import orjson

from shared.prepare.encoding import HEAD_BYTES, Encoding, detect
from shared.prepare.mapping import Columns, ExportMap, resolve

Format = Literal["csv", "tsv", "xlsx", "jsonl"]
#: Longest field accepted in a CSV (the default 128 KiB is shorter than some long chats).
_FIELD_LIMIT = min(sys.maxsize, 64 * 1024 * 1024)
_ZIP = b"PK\x03\x04"


@dataclass(frozen=True, slots=True)
class Row:
    """One message: where it came from (`line`: the row number a spreadsheet shows), its
    session, a sortable timestamp ("" when there is none), the raw sender value and the text."""

    line: int
    session: str
    time: str
    sender: str
    text: str


@dataclass(frozen=True, slots=True)
class Example:
    """One JSONL line that already holds a whole conversation (decoded, not yet converted)."""

    line: int
    obj: Any


@dataclass(frozen=True, slots=True)
class Problem:
    """A row that could not be read as asked (unparsed timestamp, bad JSON...)."""

    line: int
    code: str
    detail: str


Item = Row | Example | Problem


class Counting(io.RawIOBase):
    """A binary stream that reports how many bytes were read (for the progress bar)."""

    def __init__(self, inner: BinaryIO, head: bytes, report: Callable[[int], None] | None):
        self.inner, self.head, self.report, self.done = inner, head, report, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self.head:
            n = min(len(b), len(self.head))
            b[:n] = self.head[:n]
            self.head = self.head[n:]
        else:
            data = self.inner.read(len(b))
            n = len(data)
            b[:n] = data
        self.done += n
        if self.report is not None and n:
            self.report(self.done)
        return n


def guess_format(name: str, head: bytes) -> Format:
    """By content first (a ZIP is an .xlsx whatever it is called), then by extension, then by
    whether the first line is a JSON object."""
    low = name.lower()
    if head.startswith(_ZIP):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ValueError(
            f"{name} is an old Excel .xls workbook; open it in Excel and Save As .xlsx (or CSV "
            "UTF-8), then run prepare on that file."
        )
    if low.endswith((".tsv", ".tab")):
        return "tsv"
    if low.endswith(".csv"):
        return "csv"
    if low.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    first = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return "jsonl" if first == b"{" else "csv"


def sort_time(value: Any) -> str | None:
    """A timestamp as a sortable text `YYYY-MM-DD HH:MM:SS.ffffff` (UTC when it has a zone), or
    None when it cannot be read. Accepts datetime cells, ISO-like text with `-` or `/`, Chinese
    `2026年11月1日 10:00`, and Unix seconds or milliseconds."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        return _epoch(float(value))
    else:
        text = str(value).strip()
        if not text:
            return ""
        if len(text) == 19 and text[4] == "-" and text[10] == " " and text[:4].isdigit():
            return text + ".000000"  # the common export form, already sortable
        if text.replace(".", "", 1).isdigit():
            return _epoch(float(text))
        text = (
            text.replace("/", "-")
            .replace("年", "-")
            .replace("月", "-")
            .replace("日", " ")
            .replace("  ", " ")
            .strip()
        )
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(_pad_date(text))
        except ValueError:
            return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt.isoformat(sep=" ", timespec="microseconds")


def _pad_date(text: str) -> str:
    """`2026-1-5 9:03` -> `2026-01-05 09:03` (fromisoformat wants two digits)."""
    day, _, clock = text.partition(" ")
    parts = day.split("-")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        day = f"{parts[0]}-{int(parts[1]):02d}-{int(parts[2]):02d}"
    if clock:
        bits = clock.split(":")
        if bits[0].isdigit():
            bits[0] = f"{int(bits[0]):02d}"
        clock = ":".join(bits)
        return f"{day} {clock}"
    return day


def _epoch(v: float) -> str | None:
    if v > 1e11:  # milliseconds
        v /= 1000
    try:
        dt = datetime.fromtimestamp(v, tz=UTC).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        return None
    return dt.isoformat(sep=" ", timespec="microseconds")


def cell_text(value: Any) -> str:
    """A cell as text: Excel gives numbers for numeric ids (1001.0 -> "1001")."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _rows(records: Iterator[tuple[int, list[Any]]], columns: Columns) -> Iterator[Row | Problem]:
    width = max(columns.session, columns.role, columns.text, columns.timestamp or 0) + 1
    for line, rec in records:
        if not any(cell_text(c).strip() for c in rec):
            continue  # a blank row
        if len(rec) < width:
            rec = list(rec) + [None] * (width - len(rec))
        at = columns.timestamp
        ts = "" if at is None else sort_time(rec[at])
        if ts is None:
            yield Problem(line, "unparsed_timestamp", repr(cell_text(rec[at] if at else None)))
            ts = ""
        yield Row(
            line,
            cell_text(rec[columns.session]).strip(),
            ts,
            cell_text(rec[columns.role]).strip(),
            cell_text(rec[columns.text]),
        )


def read_delimited(
    raw: io.RawIOBase, encoding: Encoding, fmt: Format, mapping: ExportMap, source: str
) -> tuple[Columns, str, Iterator[Row | Problem]]:
    """(columns, delimiter, rows) of a CSV / TSV stream."""
    csv.field_size_limit(_FIELD_LIMIT)
    text = io.TextIOWrapper(io.BufferedReader(raw, 1 << 20), encoding=encoding.codec, newline="")
    sample = text.read(64 * 1024)
    delimiter = "\t" if fmt == "tsv" else _sniff_delimiter(sample)
    chained = _Chain(sample, text)
    reader = csv.reader(chained, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ValueError(f"{source} is empty; export the chat log with a header row.") from None
    columns = resolve(header, mapping, source)

    def records() -> Iterator[tuple[int, list[Any]]]:
        for rec in reader:
            yield reader.line_num, list(rec)

    return columns, delimiter, _rows(records(), columns)


def _sniff_delimiter(sample: str) -> str:
    lines = sample.splitlines()[:50]
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",\t;|").delimiter
    except csv.Error:
        return "\t" if lines and lines[0].count("\t") > lines[0].count(",") else ","


class _Chain:
    """Text already read (the sniffing sample) followed by the rest, as an iterator of lines."""

    def __init__(self, first: str, rest: io.TextIOWrapper) -> None:
        self.first = io.StringIO(first, newline="")
        self.rest = rest
        self.carry = ""

    def __iter__(self) -> _Chain:
        return self

    def __next__(self) -> str:
        if self.first is not None:
            line = self.first.readline()
            if line.endswith(("\n", "\r")):
                return line
            self.first = None  # type: ignore[assignment]
            self.carry = line
        line = self.carry + self.rest.readline()
        self.carry = ""
        if not line:
            raise StopIteration
        return line


def read_xlsx(
    path: str, mapping: ExportMap, source: str, sheet: str | None
) -> tuple[Columns, str, Iterator[Row | Problem]]:
    """(columns, sheet name, rows) of an .xlsx workbook, read row by row."""
    try:
        import openpyxl
    except ImportError:
        raise ValueError(
            "reading .xlsx needs openpyxl: pip install 'gemini-tuning-pipeline[xlsx]' (or save "
            "the sheet as CSV UTF-8 and prepare that)."
        ) from None
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # a damaged or password-protected workbook: say so in one line
        raise ValueError(f"{source} cannot be read as an .xlsx workbook ({e}).") from None
    if sheet is not None and sheet not in wb.sheetnames:
        raise ValueError(
            f"{source} has no sheet {sheet!r}; its sheets: {', '.join(wb.sheetnames)}."
        )
    ws = wb[sheet] if sheet is not None else wb.worksheets[0]
    it = ws.iter_rows(values_only=True)
    header = next(it, None)
    if header is None:
        wb.close()
        raise ValueError(f"{source}: sheet {ws.title!r} is empty.")
    columns = resolve(list(header), mapping, source)

    def records() -> Iterator[tuple[int, list[Any]]]:
        try:
            for n, rec in enumerate(it, start=2):
                yield n, list(rec)
        finally:
            wb.close()

    return columns, ws.title, _rows(records(), columns)


def read_jsonl(raw: io.RawIOBase, encoding: Encoding) -> Iterator[Example | Problem]:
    """One `Example` per non-blank line; a line that is not a JSON object is a `Problem`."""
    text = io.TextIOWrapper(io.BufferedReader(raw, 1 << 20), encoding=encoding.codec)
    for n, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            yield Problem(n, "invalid_json", str(e))
            continue
        yield Example(n, obj)


def head_of(stream: BinaryIO) -> bytes:
    """The first bytes of a stream (what encoding and format are guessed from)."""
    return stream.read(HEAD_BYTES)


__all__ = [
    "Counting",
    "Example",
    "Format",
    "Item",
    "Problem",
    "Row",
    "cell_text",
    "detect",
    "guess_format",
    "head_of",
    "read_delimited",
    "read_jsonl",
    "read_xlsx",
    "sort_time",
]
