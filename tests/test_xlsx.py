"""The workbook writer (:mod:`capacity.xlsx`): cells read back by openpyxl, formats, fixed bytes,
and one test per bad input."""

import numpy as np
import pytest
from openpyxl import load_workbook

from capacity.xlsx import Sheet, column_letter, write_xlsx


def sheet(**kw):
    base = dict(name="t", header=["a", "b"], columns=[["x", None], [1.5, 2]], formats=[None, "#,##0.0"],
                widths=[4, 6])
    base.update(kw)
    return Sheet(**base)


def test_column_letters_by_hand():
    assert [column_letter(j) for j in (1, 26, 27, 52, 53, 702, 703)] == \
        ["A", "Z", "AA", "AZ", "BA", "ZZ", "AAA"]


def test_cells_types_and_styles_read_back(tmp_path):
    s = Sheet(name="表 1", header=["text", "int", "float", "bool", "npint"],
              columns=[["<&>\x01 ok", "  lead"], [3, None], [0.1, float("nan")], [True, np.bool_(False)],
                       [np.int64(7), np.float64(2.5)]],
              formats=[None, "#,##0", "#,##0.0", None, "0"], widths=[10, 5, 5, 5, 5])
    path = write_xlsx(tmp_path / "b.xlsx", [s, Sheet("empty", [], [], [], [])])
    wb = load_workbook(path)
    assert wb.sheetnames == ["表 1", "empty"]
    ws = wb["表 1"]
    assert [[c.value for c in row] for row in ws.iter_rows()] == [
        ["text", "int", "float", "bool", "npint"],
        ["<&> ok", 3, 0.1, True, 7],
        ["  lead", None, None, False, 2.5]]
    assert [ws.cell(2, j).number_format for j in (2, 3, 5)] == ["#,##0", "#,##0.0", "0"]
    assert ws.cell(1, 1).font.b and not ws.cell(2, 1).font.b
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:E3"
    assert ws.column_dimensions["A"].width == 10
    assert wb.properties.created.year == 2000


def test_same_tables_same_bytes(tmp_path):
    a = write_xlsx(tmp_path / "a.xlsx", [sheet()]).read_bytes()
    b = write_xlsx(tmp_path / "b.xlsx", [sheet()]).read_bytes()
    assert a == b


def test_duplicate_sheet_name_rejected(tmp_path):
    with pytest.raises(ValueError, match="used twice"):
        write_xlsx(tmp_path / "a.xlsx", [sheet(name="T"), sheet(name="t")])


def test_column_counts_must_agree(tmp_path):
    with pytest.raises(ValueError, match="differ in length"):
        write_xlsx(tmp_path / "a.xlsx", [sheet(widths=[4])])


def test_unknown_number_format_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown number format '0.00'"):
        write_xlsx(tmp_path / "a.xlsx", [sheet(formats=[None, "0.00"])])
