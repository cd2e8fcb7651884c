"""The file format: round trip, checksums, verification, and every kind of bad file."""

from __future__ import annotations

import hashlib
import re
import shutil

import h5py
import numpy as np
import pytest

from specops.data import writer
from specops.data.checksums import field_checksum, sample_digests
from specops.data.concat import concatenate
from specops.data.datasets import OperatorDataset
from specops.data.io import read_info, verify_file
from specops.data.schema import DataFormatError, decode_attrs, encode_attrs, layout_for, parse_layout
from specops.data.writer import ArraySource, write_dataset

OP = layout_for("operator", 2)


def _write(path, n=6, **kwargs):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, 1, 8, 8)).astype(np.float32)
    u = rng.standard_normal((n, 2, 8, 8)).astype(np.float32)
    attrs = {
        "kind": "operator",
        "input_fields": ["a"],
        "output_fields": ["u"],
        "source": "test",
        "note": {"k": [1, 2]},
    }
    write_dataset(
        path,
        {"a": ArraySource(a, label="a"), "u": ArraySource(u, label="u")},
        layouts={"a": OP, "u": OP},
        attrs=attrs,
        coords={"x": np.arange(8) / 8, "y": np.arange(8) / 8},
        **kwargs,
    )
    return a, u


def test_layouts_and_attributes_round_trip():
    for kind in ("operator", "trajectory"):
        for ndim in (1, 2, 3):
            assert parse_layout(layout_for(kind, ndim)) == (kind, ndim)
    with pytest.raises(ValueError, match="not a specops field layout"):
        parse_layout("sample x channel")
    attrs = {
        "a": 1,
        "b": 2.5,
        "c": "s",
        "d": True,
        "e": [1, 2],
        "f": {"g": [0.5]},
        "h": None,
        "i": np.int64(3),
    }
    back = decode_attrs(encode_attrs(attrs))
    assert back == {**attrs, "h": "n/a", "i": 3}


def test_write_read_round_trip(tmp_path):
    _, u = _write(tmp_path / "d.h5")
    info = read_info(tmp_path / "d.h5")
    assert info.fields["u"].shape == (6, 2, 8, 8) and info.fields["u"].layout == OP
    assert info.attrs["n_samples"] == 6 and info.attrs["note"] == {"k": [1, 2]}
    with h5py.File(tmp_path / "d.h5", "r") as h5:
        assert np.array_equal(h5["fields"]["u"][...], u)
        assert h5["fields"]["u"].chunks == (1, 2, 8, 8)  # chunked by sample
    assert verify_file(tmp_path / "d.h5") == []


def test_checksums_are_sha256_of_samples_and_independent_of_batching(tmp_path, monkeypatch):
    _, u = _write(tmp_path / "one.h5")
    expected = [hashlib.sha256(sample.tobytes()).digest() for sample in u]
    assert [bytes(d) for d in sample_digests(u)] == expected
    monkeypatch.setattr(writer, "COPY_BYTES", 1)  # one sample per copy step
    _write(tmp_path / "many.h5", compression="gzip")
    one, many = read_info(tmp_path / "one.h5"), read_info(tmp_path / "many.h5")
    assert (
        one.fields["u"].sha256
        == many.fields["u"].sha256
        == field_checksum(sample_digests(u), u.dtype, u.shape[1:])
    )
    assert verify_file(tmp_path / "many.h5") == []


def test_verify_finds_corrupted_samples(tmp_path):
    _write(tmp_path / "d.h5")
    with h5py.File(tmp_path / "d.h5", "r+") as h5:
        h5["fields"]["u"][2, 0, 0, 0] += 1.0
    problems = verify_file(tmp_path / "d.h5")
    assert len(problems) == 1 and "field 'u' sample 2 does not match its checksum" in problems[0]


def test_verify_finds_nan_and_missing_pieces(tmp_path):
    _write(tmp_path / "d.h5")
    with h5py.File(tmp_path / "d.h5", "r+") as h5:
        h5["fields"]["a"][4, 0, 1, 1] = np.nan
        del h5["fields"]["u"]
        del h5.attrs["created"]
    text = "\n".join(verify_file(tmp_path / "d.h5"))
    assert "sample 4 has NaN or inf" in text
    assert "output_fields names field 'u', which is missing" in text
    assert "root attributes missing: created" in text


def test_truncated_file_is_named_with_the_fix(tmp_path):
    _write(tmp_path / "d.h5")
    data = (tmp_path / "d.h5").read_bytes()
    (tmp_path / "t.h5").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match=r"t\.h5.*truncated or corrupt.*regenerate"):
        read_info(tmp_path / "t.h5")
    assert "truncated" in verify_file(tmp_path / "t.h5")[0]


def test_unknown_format_version_and_foreign_file(tmp_path):
    _write(tmp_path / "d.h5")
    with h5py.File(tmp_path / "d.h5", "r+") as h5:
        h5.attrs["format_version"] = 99
    with pytest.raises(DataFormatError, match=r"format_version 99, newer.*upgrade specops"):
        read_info(tmp_path / "d.h5")
    with h5py.File(tmp_path / "f.h5", "w") as h5:
        h5["tensor"] = np.zeros(3)
    with pytest.raises(DataFormatError, match=r"not a specops dataset.*specops convert"):
        read_info(tmp_path / "f.h5")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_info(tmp_path / "nothing.h5")


def test_bad_data_leaves_the_existing_file_intact(tmp_path):
    _write(tmp_path / "d.h5")
    before = (tmp_path / "d.h5").read_bytes()
    bad = np.ones((3, 1, 8, 8), dtype=np.float32)
    bad[1, 0, 2, 2] = np.inf
    with pytest.raises(
        DataFormatError, match=r"field 'a' \(bad source\) has NaN or inf values in sample\(s\) 1"
    ):
        write_dataset(
            tmp_path / "d.h5", {"a": ArraySource(bad, label="bad source")}, layouts={"a": OP}, attrs={}
        )
    with pytest.raises(DataFormatError, match=r"different numbers of samples.*a \(x\): 3, u \(y\): 2"):
        write_dataset(
            tmp_path / "d.h5",
            {
                "a": ArraySource(np.ones((3, 1, 4)), label="x"),
                "u": ArraySource(np.ones((2, 1, 4)), label="y"),
            },
            layouts={"a": layout_for("operator", 1), "u": layout_for("operator", 1)},
            attrs={},
        )
    assert (tmp_path / "d.h5").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.h5"]  # no temporary file left behind


def test_concatenate_checks_stored_digests(tmp_path):
    _write(tmp_path / "p.h5")
    shutil.copy(tmp_path / "p.h5", tmp_path / "q.h5")
    with h5py.File(tmp_path / "q.h5", "r+") as h5:
        h5.attrs["sample_start"], h5.attrs["sample_stop"] = 6, 12
        h5["fields"]["a"][0, 0, 0, 0] = 7.0  # corrupt without updating the checksum
    with pytest.raises(DataFormatError, match="sample 6 does not match its stored checksum"):
        concatenate(tmp_path / "pq.h5", [tmp_path / "p.h5", tmp_path / "q.h5"])
    assert not (tmp_path / "pq.h5").exists()


def _damaged(tmp_path, name, change):
    path = tmp_path / name
    _write(path)
    with h5py.File(path, "r+") as h5:
        change(h5)
    return path


def _group_for_field(h5):
    del h5["fields"]["u"]
    h5["fields"].create_group("u")


def test_damaged_metadata_is_one_error_naming_file_and_object(tmp_path):
    cases = {
        "group.h5": (_group_for_field, r"group\.h5: /fields/u is a group, not an array"),
        "json.h5": (
            lambda h5: h5.attrs.__setitem__("note", "{not json"),
            r"json\.h5: root attribute 'note'='\{not json' is listed as JSON but does not parse",
        ),
        "keys.h5": (
            lambda h5: h5.attrs.__setitem__("json_attrs", "note]"),
            r"keys\.h5: root attribute 'json_attrs'='note\]' is listed as JSON but does not parse",
        ),
        "coords.h5": (
            lambda h5: (h5["coords"].pop("x"), h5["coords"].create_group("x")),
            r"coords\.h5: /coords/x is a group, not an array",
        ),
        "seeds.h5": (lambda h5: h5.create_group("seeds"), r"seeds\.h5: /seeds is a group, not an array"),
        "nofields.h5": (lambda h5: h5.pop("fields"), r"nofields\.h5 has no /fields group"),
    }
    for name, (change, message) in cases.items():
        path = _damaged(tmp_path, name, change)
        with pytest.raises(DataFormatError, match=message):
            read_info(path)
        problems = verify_file(path)
        assert len(problems) == 1 and re.search(message, problems[0]), problems
        with pytest.raises(DataFormatError, match=message):
            OperatorDataset(path)
    path = _damaged(
        tmp_path, "sums.h5", lambda h5: (h5["checksums"].pop("u"), h5["checksums"].create_group("u"))
    )
    assert verify_file(path) == [f"{path}: field 'u' has no checksums; reconvert or regenerate the file"]


def test_damaged_hdf5_structures_never_escape_as_raw_h5py_errors(tmp_path):
    """Each B-tree, heap and symbol-table node of a small file is damaged in turn (as a bad sector would):
    h5py then raises RuntimeError, OSError or KeyError from deep inside; every reader turns it into one
    DataFormatError naming the file."""
    _write(tmp_path / "ok.h5")
    data = (tmp_path / "ok.h5").read_bytes()
    offsets = [i for sig in (b"TREE", b"HEAP", b"SNOD") for i in range(len(data)) if data.startswith(sig, i)]
    assert len(offsets) >= 6
    for k, offset in enumerate(offsets):
        path = tmp_path / f"bad{k}.h5"
        path.write_bytes(data[:offset] + b"XXXX" + data[offset + 4 :])
        for read in (read_info, lambda p: OperatorDataset(p)[5]):
            try:
                read(path)
            except DataFormatError as exc:
                assert str(path) in str(exc) and "\n" not in str(exc)
        assert all(str(path) in p for p in verify_file(path))
