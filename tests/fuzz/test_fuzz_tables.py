"""Fuzzing the events-table readers (read_events, check_events_in_movie, `exodeep evaluate`):
missing or renamed columns, text in numbers, NaN, duplicates, rows outside the movie, BOM,
UTF-16 as ExoJ writes, semicolons with decimal commas, Windows and old Mac line ends, damaged
XML object lists, binary files."""

from __future__ import annotations

import numpy as np
import tifffile
from hypothesis import given, settings
from hypothesis import strategies as st

from exodeep_gui.core.events import check_events_in_movie, rows_outside
from exodeep_gui.io.results import read_events
from tests.fuzz.conftest import examples
from tests.fuzz.contract import run_case, run_cli, scratch_dir

X_NAMES = ["X", "x", "X (px)", "x [pixel]", '"X"', "Pos X", "POSITION_X", "XM", ""]
Y_NAMES = ["Y", "y", "Y (px)", "y [pixel]", '"Y"', "Pos Y", "POSITION_Y", "YM", ""]
Z_NAMES = ["Slice", "slice", "Frame", "FRAME", "Slice (1-based)", "T", "z", ""]
CELLS = st.one_of(
    st.integers(-5, 300).map(str),
    st.floats(-10, 300, allow_nan=False).map(lambda v: f"{v:.3f}"),
    st.sampled_from(["", " ", "abc", "NaN", "nan", "inf", "-inf", "1e400", "12,5", "1.2.3", "0", "-1",
                     "3e2", "0x10", "١٢", "12 ", '"7"', "None", "#N/A", "1,0"]),
)


@st.composite
def table_text(draw, within=None):
    """An events table as a person or a program might write it. ``within``: the shape (T, H, W) of
    a movie that its X, Y and frames then fall in (bad cells, bad rows and damage still come)."""
    kind = draw(st.sampled_from(["imagej", "imagej", "reference", "renamed", "extra-columns"]))
    if kind == "reference":
        header = ["tomo_idx", "class_label", "x", "y", "z"]
    elif kind == "renamed":
        header = [draw(st.sampled_from(X_NAMES)), draw(st.sampled_from(Y_NAMES)), draw(st.sampled_from(Z_NAMES))]
    else:
        header = [" ", "X", "Y", "Slice"] if draw(st.booleans()) else ["X", "Y", "Slice"]
        if kind == "extra-columns":
            header += draw(st.lists(st.sampled_from(["Frame", "Ch", "score", "size", "Mean", "Area"]),
                                    max_size=3, unique=True))
    n = draw(st.integers(0, 12))
    rng = np.random.default_rng(draw(st.integers(0, 1000)))
    y_col = 1 if kind == "renamed" else header.index("y" if kind == "reference" else "Y")
    rows = []
    for i in range(n):
        row = []
        for j, h in enumerate(header):
            key = h.strip().lower()
            if key in ("", " ", "tomo_idx"):
                row.append(str(i + 1) if key != "tomo_idx" else "0")
            elif key == "class_label":
                row.append("1")
            elif draw(st.integers(0, 9)) == 0:
                row.append(draw(CELLS))                       # a bad cell now and then
            elif "slice" in key or "frame" in key or key in ("t", "z"):
                first = 0 if kind == "reference" else 1               # the reference's z is 0-based
                row.append(str(int(rng.integers(first, first + within[0])) if within else int(rng.integers(0, 60))))
            elif within:
                row.append(f"{rng.uniform(0, (within[1] if j == y_col else within[2]) - 1):.3f}")
            else:
                row.append(f"{rng.uniform(-2, 40):.3f}")
        if draw(st.integers(0, 12)) == 0:
            row = row[:draw(st.integers(0, len(row)))]         # an incomplete row
        rows.append(row)
        if rows and draw(st.integers(0, 10)) == 0:
            rows.append(list(rows[-1]))                        # a duplicate
    delim = draw(st.sampled_from([",", ",", "\t", ";"]))
    if delim == ";" and draw(st.booleans()):                   # European Excel: decimal commas
        rows = [[c.replace(".", ",") for c in r] for r in rows]
    quote = draw(st.booleans())
    fmt = (lambda c: f'"{c}"' if quote and c and '"' not in c else c)
    eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    lines = [delim.join(fmt(c) for c in header)] + [delim.join(fmt(c) for c in r) for r in rows]
    if draw(st.integers(0, 8)) == 0:
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(["", "   ", "# comment", "\t"])))
    return eol.join(lines) + (eol if draw(st.booleans()) else "")


def encode(draw, text: str) -> bytes:
    enc = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "cp1252"]))
    if enc == "cp1252":
        text = text.replace("X", "X µm", 1) if draw(st.booleans()) else text
    raw = text.encode(enc, errors="replace")
    if draw(st.integers(0, 10)) == 0 and raw:
        raw = raw[:draw(st.integers(0, len(raw) - 1))]          # cut anywhere (even inside a UTF-16 unit)
    if draw(st.integers(0, 20)) == 0:
        raw = bytes(draw(st.binary(max_size=200)))              # not a table at all
    return raw


@st.composite
def xml_text(draw):
    objs = []
    for i in range(draw(st.integers(0, 8))):
        attrs = {"tomo_idx": "0", "class_label": "1"}
        for key in ("x", "y", "z", "cluster_size"):
            if draw(st.integers(0, 8)):
                attrs[key] = draw(CELLS) if draw(st.integers(0, 6)) == 0 else f"{draw(st.floats(0, 60)):.2f}"
        objs.append("<object " + " ".join(f'{k}="{v}"' for k, v in attrs.items() if '"' not in v) + "/>")
    text = "<objlist>\n" + "\n".join(objs) + "\n</objlist>\n"
    if draw(st.integers(0, 5)) == 0:
        text = text[:draw(st.integers(0, len(text)))]
    return text


def _finite(table):
    assert np.isfinite(table.x).all() and np.isfinite(table.y).all() and (table.frame >= 0).all()


def _inside(shape):
    def check(table):
        _finite(table)
        outside = rows_outside(table, shape)
        assert len(outside) == 0, f"rows {[int(i) + 1 for i in outside]} outside a movie of {shape} passed the check"
    return check


@settings(max_examples=examples(60))
@given(data=st.data())
def test_tables_read_or_fail_with_one_line(fuzz_dir, data):
    tmp = scratch_dir(fuzz_dir / "tables")
    suffix = data.draw(st.sampled_from([".csv", ".csv", ".txt", ".xls", ".CSV"]))
    path = tmp / f"cell 1{suffix}"
    path.write_bytes(encode(data.draw, data.draw(table_text())))
    run_case("tables: CSV/TSV (ImageJ, reference, ExoJ)", lambda: read_events(path), [path], check=_finite)


@settings(max_examples=examples(25))
@given(data=st.data())
def test_xml_object_lists(fuzz_dir, data):
    tmp = scratch_dir(fuzz_dir / "xml")
    path = tmp / "cell_events.xml"
    text = data.draw(xml_text())
    path.write_bytes(text.encode(data.draw(st.sampled_from(["utf-8", "utf-16"]))))
    run_case("tables: XML object lists", lambda: read_events(path), [path], check=_finite)


@settings(max_examples=examples(30))
@given(data=st.data(), shape=st.tuples(st.integers(1, 80), st.integers(8, 40), st.integers(8, 40)))
def test_tables_against_the_movie(fuzz_dir, data, shape):
    """A table read, then checked against a movie of ``shape``: a row outside is named; a table
    that passes has no row outside. Half the tables are made to fit the movie."""
    tmp = scratch_dir(fuzz_dir / "bounds")
    path = tmp / "cell.csv"
    fits = data.draw(st.booleans())
    path.write_bytes(encode(data.draw, data.draw(table_text(within=shape if fits else None))))

    def action():
        table = read_events(path)
        check_events_in_movie(table, shape, str(path))
        return table

    run_case("tables: rows against the movie", action, [path], check=_inside(shape))


@settings(max_examples=examples(20))
@given(data=st.data())
def test_cli_evaluate(fuzz_dir, data):
    """`exodeep evaluate TRUTH PRED` with the movie beside the annotations."""
    tmp = scratch_dir(fuzz_dir / "evaluate")
    truth, pred = tmp / "cell.csv", tmp / "cell_events.csv"
    truth.write_bytes(encode(data.draw, data.draw(table_text())))
    pred.write_bytes(encode(data.draw, data.draw(table_text())))
    if data.draw(st.booleans()):
        tifffile.imwrite(tmp / "cell.tif", np.zeros((data.draw(st.integers(1, 70)), 32, 32), np.uint16))
    run_cli("CLI: exodeep evaluate TRUTH PRED", ["evaluate", truth, pred], [truth, pred])
