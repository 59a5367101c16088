"""A small, fast writer of ``.xlsx`` workbooks: tables of text, numbers and booleans, one per sheet.

The plan's workbook has about 40,000 cells; openpyxl's write-only mode spends about a second on
them (an XML element object per cell). This module writes the same spreadsheet XML as text, column
by column, in a few hundredths of a second: each sheet has a bold, frozen header row, an
autofilter, column widths and a number format per column; text is stored inline (no shared string
table), missing values are empty cells. The bytes depend only on the tables (document times fixed at
:data:`capacity.outputs.FIXED_TIME`, zip entries dated 1980-01-01), so the same tables give the same
file. The result opens in Excel, LibreOffice, openpyxl and pandas (tests read it back).
"""

from __future__ import annotations

import math
import numbers
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from capacity.outputs import _ZIP_TIME, FIXED_TIME

__all__ = ["Sheet", "column_letter", "write_xlsx"]

#: Number formats a column may take -> the cell style index that carries it (styles.xml below).
FORMATS = {None: 0, "0": 2, "#,##0": 3, "#,##0.0": 4}
_BOLD = 1
#: Characters XML 1.0 does not allow (they are dropped from text cells).
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass(frozen=True)
class Sheet:
    """One sheet: its ``name`` (at most 31 characters), column ``header`` texts, ``columns`` (one
    list of values per column: ``str``, ``int``, ``float``, ``bool`` or ``None`` for an empty cell),
    ``formats`` (a key of :data:`FORMATS` per column) and ``widths`` (characters per column)."""

    name: str
    header: Sequence[str]
    columns: Sequence[Sequence]
    formats: Sequence[str | None]
    widths: Sequence[float]


def column_letter(j: int) -> str:
    """Excel's letters of the 1-based column ``j`` (1 -> A, 27 -> AA)."""
    s = ""
    while j > 0:
        j, r = divmod(j - 1, 26)
        s = chr(65 + r) + s
    return s


def _text(v: str) -> str:
    return escape(_ILLEGAL.sub("", v))


def _cells(values: Sequence, letter: str, style: int) -> list[str]:
    """The ``<c>`` elements of one column from row 2 on ('' for an empty cell)."""
    s = f' s="{style}"' if style else ""
    out = []
    for i, v in enumerate(values, start=2):
        if v is None:
            out.append("")
        elif isinstance(v, (bool, np.bool_)):
            out.append(f'<c r="{letter}{i}" t="b"><v>{int(v)}</v></c>')
        elif isinstance(v, numbers.Integral):
            out.append(f'<c r="{letter}{i}"{s}><v>{int(v)}</v></c>')
        elif isinstance(v, numbers.Real):
            v = float(v)
            if math.isnan(v):
                out.append("")
            elif math.isinf(v):
                out.append(f'<c r="{letter}{i}" t="inlineStr"><is><t>{"inf" if v > 0 else "-inf"}</t></is></c>')
            else:
                out.append(f'<c r="{letter}{i}"{s}><v>{v!r}</v></c>')
        else:
            out.append(f'<c r="{letter}{i}" t="inlineStr"><is><t xml:space="preserve">{_text(str(v))}'
                       "</t></is></c>")
    return out


def _sheet_xml(sheet: Sheet) -> str:
    n_cols = len(sheet.header)
    n_rows = max((len(c) for c in sheet.columns), default=0)
    letters = [column_letter(j) for j in range(1, n_cols + 1)]
    parts = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
             'activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft" activeCell="A2" '
             'sqref="A2"/></sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>']
    if n_cols:
        parts.append("<cols>" + "".join(
            f'<col min="{j}" max="{j}" width="{float(w):g}" customWidth="1"/>'
            for j, w in enumerate(sheet.widths, start=1)) + "</cols>")
    parts.append("<sheetData>")
    if n_cols:
        parts.append('<row r="1">' + "".join(
            f'<c r="{letters[j]}1" s="{_BOLD}" t="inlineStr"><is><t xml:space="preserve">{_text(str(h))}'
            "</t></is></c>" for j, h in enumerate(sheet.header)) + "</row>")
        cols = [_cells(values, letters[j], FORMATS[sheet.formats[j]])
                for j, values in enumerate(sheet.columns)]
        for i, row in enumerate(zip(*cols, strict=True), start=2):
            parts.append(f'<row r="{i}">{"".join(row)}</row>')
    parts.append("</sheetData>")
    if n_cols:
        parts.append(f'<autoFilter ref="A1:{letters[-1]}{n_rows + 1}"/>')
    parts.append("</worksheet>")
    return "".join(parts)


_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="#,##0.0"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b val="1"/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="5">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="1" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="3" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    '</styleSheet>')


def _package(sheets: Sequence[Sheet]) -> list[tuple[str, str]]:
    """The workbook's parts (name, XML text) in the order they are zipped."""
    n = len(sheets)
    ct = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
          '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Default Extension="xml" ContentType="application/xml"/>'
          '<Override PartName="/xl/workbook.xml" '
          'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
          '<Override PartName="/xl/styles.xml" '
          'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
          '<Override PartName="/docProps/core.xml" '
          'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
          + "".join(f'<Override PartName="/xl/worksheets/sheet{k}.xml" '
                    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                    for k in range(1, n + 1))
          + "</Types>")
    rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="xl/workbook.xml"/>'
            '<Relationship Id="rId2" '
            'Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" '
            'Target="docProps/core.xml"/></Relationships>')
    core = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:creator>capacity</dc:creator>'
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{FIXED_TIME}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{FIXED_TIME}</dcterms:modified>'
            '</cp:coreProperties>')
    names, filters = [], []
    for k, sh in enumerate(sheets):
        name = sh.name[:31]
        names.append(f'<sheet name="{escape(name, {chr(34): "&quot;"})}" sheetId="{k + 1}" r:id="rId{k + 1}"/>')
        if len(sh.header):
            n_rows = max((len(c) for c in sh.columns), default=0)
            quoted = "'" + name.replace("'", "''") + "'"
            filters.append(f'<definedName name="_xlnm._FilterDatabase" localSheetId="{k}" hidden="1">'
                           f"{escape(quoted)}!$A$1:${column_letter(len(sh.header))}${n_rows + 1}"
                           "</definedName>")
    wb = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
          '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
          'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
          '<bookViews><workbookView/></bookViews><sheets>' + "".join(names) + "</sheets>"
          + (f"<definedNames>{''.join(filters)}</definedNames>" if filters else "") + "</workbook>")
    wb_rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
               '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
               + "".join(f'<Relationship Id="rId{k}" '
                         'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
                         f'Target="worksheets/sheet{k}.xml"/>' for k in range(1, n + 1))
               + f'<Relationship Id="rId{n + 1}" '
               'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
               'Target="styles.xml"/></Relationships>')
    parts = [("[Content_Types].xml", ct), ("_rels/.rels", rels), ("docProps/core.xml", core),
             ("xl/workbook.xml", wb), ("xl/_rels/workbook.xml.rels", wb_rels), ("xl/styles.xml", _STYLES)]
    parts += [(f"xl/worksheets/sheet{k}.xml", _sheet_xml(sh)) for k, sh in enumerate(sheets, start=1)]
    return parts


def write_xlsx(path, sheets: Sequence[Sheet]) -> Path:
    """Write ``sheets`` to the workbook ``path`` (replaced if it exists).

    Raises
    ------
    ValueError
        For a sheet without a name, two sheets of the same name (after cutting to 31
        characters), a column count that differs between header, columns, formats and widths, or an
        unknown number format.
    """
    seen = set()
    for sh in sheets:
        key = sh.name[:31].lower()
        if not key or key in seen:
            raise ValueError(f"workbook sheet name {sh.name!r} is empty or used twice")
        seen.add(key)
        if not (len(sh.header) == len(sh.columns) == len(sh.formats) == len(sh.widths)):
            raise ValueError(f"sheet {sh.name!r}: header, columns, formats and widths differ in length")
        bad = [f for f in sh.formats if f not in FORMATS]
        if bad:
            raise ValueError(f"sheet {sh.name!r}: unknown number format {bad[0]!r}")
    path = Path(path)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, text in _package(sheets):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, text.encode("utf-8"))
    return path
