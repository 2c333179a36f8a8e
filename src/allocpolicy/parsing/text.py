"""Reading scanned files: size limits, BOM, encodings, binary detection."""

from __future__ import annotations

from pathlib import Path

from allocpolicy._record import record

MAX_BYTES = 2 * 1024 * 1024  # manifests and Dockerfiles are small; a 2 MiB one is not ours


class ReadError(Exception):
    def __init__(self, message: str, line: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@record(frozen=True)
class SourceText:
    text: str  # BOM stripped, line endings kept
    bom: bool
    newline: str  # "\r\n" when the file uses CRLF, else "\n"

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()


def read_bytes(path: Path, limit: int = MAX_BYTES) -> bytes:
    try:
        size = path.stat().st_size
        if size > limit:
            raise ReadError(f"file is {size} bytes, over the {limit}-byte limit; skipped")
        return path.read_bytes()
    except PermissionError as exc:
        raise ReadError(f"cannot read file: permission denied ({exc.strerror})") from None
    except OSError as exc:
        raise ReadError(f"cannot read file: {exc.strerror or exc}") from None


def decode(data: bytes) -> SourceText:
    if b"\0" in data[:8192]:
        raise ReadError("binary file (contains NUL bytes); skipped")
    bom = data.startswith(b"\xef\xbb\xbf")
    if bom:
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ReadError(f"not valid UTF-8 (byte {exc.start})", line) from None
    newline = "\r\n" if "\r\n" in text else "\n"
    return SourceText(text=text, bom=bom, newline=newline)


def read_text(path: Path) -> SourceText:
    return decode(read_bytes(path))
