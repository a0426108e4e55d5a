"""Fuzzing the files of the window: its settings (corrupt JSON, values of the wrong kind), the
per-movie review files (corrupt JSON, damaged fields, another movie's review) and cell masks."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import tifffile
from hypothesis import given, settings
from hypothesis import strategies as st

from exodeep_gui.core.events import EventTable
from exodeep_gui.core.review import EventFilter
from exodeep_gui.gui.settings import Settings
from exodeep_gui.io.masks import read_mask
from exodeep_gui.io.review_file import SavedReview, beside_path, load_review, review_json
from tests.fuzz.conftest import examples
from tests.fuzz.contract import run_case, scratch_dir
from tests.fuzz.damage import cut_bytes, flip_bytes

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)


def mutate_json(draw, doc: dict) -> bytes:
    """A JSON document damaged as files get damaged: a field set to a value of another kind, a field
    removed, the text cut, bytes flipped, another encoding, or not JSON at all."""
    how = draw(st.sampled_from(["none", "field", "field", "drop", "cut", "flip", "utf16", "garbage", "array",
                                "nested"]))
    doc = json.loads(json.dumps(doc))
    if how == "field" and doc:
        key = draw(st.sampled_from(sorted(doc)))
        doc[key] = draw(JSON_VALUES)
    elif how == "drop" and doc:
        doc.pop(draw(st.sampled_from(sorted(doc))))
    elif how == "nested" and doc:
        key = draw(st.sampled_from(sorted(k for k in doc if isinstance(doc[k], dict)) or sorted(doc)))
        if isinstance(doc[key], dict) and doc[key]:
            sub = draw(st.sampled_from(sorted(doc[key])))
            doc[key][sub] = draw(JSON_VALUES)
    elif how == "array":
        return json.dumps([doc]).encode()
    text = json.dumps(doc, allow_nan=True).encode()
    if how == "cut":
        text = cut_bytes(draw, text)
    elif how == "flip":
        text = flip_bytes(draw, text)
    elif how == "utf16":
        text = text.decode().encode("utf-16")
    elif how == "garbage":
        text = bytes(draw(st.binary(max_size=100)))
    return text


@settings(max_examples=examples(40))
@given(data=st.data())
def test_settings_files(fuzz_dir, data):
    """A settings file never stops the window: broken files give the defaults, values of the wrong
    kind the default of that setting; the file is left as it was."""
    tmp = scratch_dir(fuzz_dir / "settings")
    path = tmp / "settings.json"
    good = Settings(recent=["/data/a.tif", "/data/b.tif"], last_open_dir="/data", model="exodeepfinder",
                    threshold=0.7, min_size=3, fps=25, geometry="01d9d0cb", window_state="ff")
    from dataclasses import asdict

    path.write_bytes(mutate_json(data.draw, asdict(good)))

    def check(s):
        defaults = Settings()
        for name in Settings.__dataclass_fields__:
            assert type(getattr(s, name)) is type(getattr(defaults, name)), name
        assert all(isinstance(r, str) for r in s.recent)
        assert np.isfinite(s.threshold)

    run_case("window: settings.json", lambda: Settings.load(path), [path], check=check)


def _review(tmp, shape):
    rows = EventTable.from_arrays([3, 8.5], [4, 9], [2, 7], [0.9, np.nan], [10, 2],
                                  extra={"id": np.array([1, 2]), "origin": np.array(["detected", "added"], "U9"),
                                         "status": np.array(["shown", "confirmed"], "U9")})
    saved = SavedReview(rows, 3, "exodeepfinder", EventTable.from_arrays([1.0], [2.0], [3]), "truth.csv",
                        (10.0, 900.0), np.array([[1.0, 2.0], [10.0, 12.0]]), True, EventFilter(0.6, 3))
    return json.loads(review_json(saved, tmp / "cell.tif", shape))


def _contents(folder):
    return sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file())


def _review_case(data, fuzz_dir, header_keys: bool):
    """A review file beside a movie, damaged: in its body (events, annotations, filter…) or, with
    ``header_keys``, in the fields that say what it is (format version, movie)."""
    tmp = scratch_dir(fuzz_dir / "review")
    shape = (20, 16, 16)
    path = beside_path(tmp / "cell.tif")
    doc = _review(tmp, shape)
    if header_keys:
        key = data.draw(st.sampled_from(["version", "movie", "format"]))
        doc[key] = data.draw(JSON_VALUES)
        raw = json.dumps(doc, allow_nan=True).encode()
    else:
        if data.draw(st.integers(0, 5)) == 0:
            doc["movie"]["shape"] = [data.draw(st.integers(0, 40)), 16, 16]
        if data.draw(st.integers(0, 3)) == 0:
            sub = data.draw(st.sampled_from(["events", "annotations"]))
            col = data.draw(st.sampled_from(["x", "y", "frame", "score", "size", "id", "origin", "status"]))
            if isinstance(doc.get(sub), dict):
                doc[sub][col] = data.draw(JSON_VALUES)
        header = {k: doc.pop(k) for k in ("format", "version", "movie")}
        raw = mutate_json(data.draw, doc)                       # the body only
        try:
            body = json.loads(raw)
            raw = json.dumps({**header, **body}, allow_nan=True).encode() if isinstance(body, dict) else raw
        except ValueError:
            pass                                                # not JSON any more: as it is
    path.write_bytes(raw)
    before = _contents(tmp)

    def check(saved):
        assert saved is None or len(saved.rows) == len(saved.rows.extra["id"])
        assert _contents(tmp) == before

    run_case("window: review files" + (" (header fields)" if header_keys else ""),
             lambda: load_review(tmp / "cell.tif", shape), [], named=[path], check=check)
    assert _contents(tmp) == before, "the review file's content was lost"


@settings(max_examples=examples(40), report_multiple_bugs=False)
@given(data=st.data())
def test_review_files(fuzz_dir, data):
    """A review file is restored, or refused with one line naming it (and moved aside, its content
    kept: the file is never overwritten nor lost)."""
    _review_case(data, fuzz_dir, header_keys=False)


@settings(max_examples=examples(15), report_multiple_bugs=False)
@given(data=st.data())
def test_review_file_headers(fuzz_dir, data):
    _review_case(data, fuzz_dir, header_keys=True)


@settings(max_examples=examples(25))
@given(data=st.data())
def test_cell_masks(fuzz_dir, data):
    tmp = scratch_dir(fuzz_dir / "mask")
    path = tmp / "cell_mask.tif"
    shape = data.draw(st.sampled_from([(32, 32), (32, 32), (32, 30), (3, 32, 32), (32, 32, 3), (4,)]))
    dtype = data.draw(st.sampled_from(["uint8", "uint16", "bool", "float32"]))
    arr = (np.random.default_rng(0).random(shape) > 0.5).astype(dtype)
    kw = {"photometric": "rgb"} if shape[-1] == 3 and dtype == "uint8" else {}
    try:
        tifffile.imwrite(path, arr, compression=data.draw(st.sampled_from([None, "zlib"])), **kw)
    except Exception:
        tifffile.imwrite(path, np.ones((32, 32), np.uint8))
    raw = bytearray(path.read_bytes())
    how = data.draw(st.sampled_from(["none", "cut", "flip", "absurd"]))
    if how == "cut":
        raw = bytearray(cut_bytes(data.draw, raw))
    elif how == "flip":
        raw = bytearray(flip_bytes(data.draw, raw, within=400, most=6))
    elif how == "absurd":
        i = data.draw(st.integers(8, min(len(raw), 300) - 4))
        raw[i:i + 4] = (2**31 - 1).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    run_case("masks: NAME_mask.tif", lambda: read_mask(path, (32, 32)), [path])
