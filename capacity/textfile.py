"""Reading the text files the tool is given (district CSVs, ``district.toml``, scenario TOML).

Every text file is read the same way: as UTF-8 (a UTF-8 byte-order mark, as Excel writes it, is
allowed). A file in another encoding is not guessed at and not read with replacement characters:
:func:`read_text` raises :class:`TextEncodingError`, whose message says where the first
undecodable byte is and, when the bytes are valid GBK/GB18030 (what a Chinese-language Windows
editor saves by default), says so. The callers turn it into their own one-line error naming the
file (:class:`capacity.data.DataError`, :class:`capacity.scenario.ScenarioError`).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["TextEncodingError", "read_text"]


class TextEncodingError(ValueError):
    """A file is not UTF-8 text.

    Attributes
    ----------
    line : int
        Line of the first byte that is not UTF-8 (1-based).
    column : int
        Character column of that byte in its line (1-based).
    reason : str
        One line without the file name, e.g. ``"not UTF-8 text: byte 0xd6 at line 3, column 12
        (the file looks like GBK/GB18030); save it as UTF-8"``.
    """

    def __init__(self, reason: str, line: int, column: int):
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.column = column


def _describe(raw: bytes, exc: UnicodeDecodeError) -> TextEncodingError:
    start = exc.start
    line = raw.count(b"\n", 0, start) + 1
    line_start = raw.rfind(b"\n", 0, start) + 1
    column = len(raw[line_start:start].decode("utf-8", errors="replace")) + 1
    guess = ""
    try:
        raw.decode("gb18030")
        guess = " (the file looks like GBK/GB18030, as a Chinese-language Windows editor saves it)"
    except UnicodeDecodeError:
        pass
    reason = (f"not UTF-8 text: byte 0x{raw[start]:02x} at line {line}, column {column} cannot be "
              f"decoded{guess}; save the file as UTF-8")
    return TextEncodingError(reason, line, column)


def read_text(path) -> str:
    """The text of a UTF-8 file (a leading byte-order mark is dropped).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    str

    Raises
    ------
    OSError
        The file cannot be read.
    TextEncodingError
        The file is not UTF-8; the message names the line and column of the first bad byte.
    """
    raw = Path(path).read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _describe(raw, exc) from None
