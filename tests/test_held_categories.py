"""Text held as categories (codes into the distinct values) must stand for exactly the text: the same values, the
categories astype("category") gives, the same order when sorted. Each check compares with the plain-text way."""

import numpy as np
import pandas as pd
import pytest

from ucmsc.adamspec import combine_bds
from ucmsc.io import read_held, sorted_categories, stack_frames, write_table


def _texts(n: int, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    values = rng.choice(["b", "a", "B", "é", "a b", "", "Z9", "z"], n).astype(object)
    values[rng.random(n) < 0.1] = None
    return pd.Series(values, dtype="str")


def test_sorted_categories_are_those_of_astype_category():
    text = _texts(500, 1)
    held = pd.Series(pd.Categorical(text, categories=["z", "never used", "a b", "é", "b", "", "a", "Z9", "B"]))
    got = sorted_categories(held)
    expected = text.astype("category")
    pd.testing.assert_series_equal(got, expected, check_names=False)
    assert list(got.cat.categories) == sorted(set(text.dropna()))  # code-point order: "" < "B" < "Z9" < "a" ...


def test_stacked_parts_keep_their_values():
    parts = [pd.DataFrame({"T": _texts(50, s).astype("category"), "X": np.arange(50.0) + s}) for s in (2, 3, 4)]
    stacked = stack_frames(parts)
    assert isinstance(stacked["T"].dtype, pd.CategoricalDtype)
    plain = pd.concat([p.astype({"T": "str"}) for p in parts], ignore_index=True)
    pd.testing.assert_frame_equal(stacked.astype({"T": "str"}), plain)


def test_bds_read_held_equals_text_read_then_categories(tmp_path):
    frames = {}
    for number, name in enumerate(["ADLB", "ADVS"]):
        n = 300 + 100 * number
        rng = np.random.default_rng(number)
        frames[name] = pd.DataFrame({"USUBJID": _texts(n, 10 + number).fillna("S"), "PARAMCD": _texts(n, 20 + number),
                                     "AVISITN": rng.integers(0, 3, n), "AVAL": rng.normal(size=n),
                                     "ANRIND": _texts(n, 30 + number)})
        write_table(frames[name], tmp_path / f"{name.lower()}.parquet")
    columns, held = ["USUBJID", "PARAMCD", "AVISITN", "AVAL", "ANRIND"], ["USUBJID", "PARAMCD"]
    got = combine_bds({n: read_held(tmp_path / f"{n.lower()}.parquet", columns, held) for n in frames})
    # the plain way: text read, stacked, sorted by text, then categories
    text = pd.concat([pd.read_parquet(tmp_path / f"{n.lower()}.parquet", columns=columns) for n in frames],
                     ignore_index=True)
    expected = text.sort_values(["USUBJID", "PARAMCD", "AVISITN"], kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected.astype({c: "category" for c in held}))


def test_parquet_written_by_row_group_is_to_parquets_file(tmp_path, monkeypatch):
    """A long frame with categories is written a row group at a time (its text never built whole): the same bytes as
    pandas' to_parquet of the text frame with the same row groups."""
    import ucmsc.io as io

    monkeypatch.setattr(io, "PARQUET_ROW_GROUP", 1000)
    rng = np.random.default_rng(5)
    n = 3500
    frame = pd.DataFrame({"T": _texts(n, 6).astype("category"), "X": rng.normal(size=n),
                          "S": _texts(n, 7), "D": pd.to_datetime(rng.integers(0, 10**9, n), unit="s")})
    write_table(frame, tmp_path / "held.parquet")
    frame.assign(T=frame["T"].astype("str")).to_parquet(tmp_path / "text.parquet", index=False, row_group_size=1000)
    assert (tmp_path / "held.parquet").read_bytes() == (tmp_path / "text.parquet").read_bytes()
    back = pd.read_parquet(tmp_path / "held.parquet")
    assert back["T"].dtype == "str" and back["T"].isna().sum() == frame["T"].isna().sum()


def test_a_held_column_without_any_value_in_one_dataset(tmp_path):
    """A dataset whose ARM is missing throughout (stored as Arrow null, or as text with no value) stacks with one that
    has arms, as the text would."""
    columns, held = ["USUBJID", "ARM", "PARAMCD", "AVISITN", "AVAL"], ["USUBJID", "ARM", "PARAMCD"]
    frames = {"ADLB": pd.DataFrame({"USUBJID": ["b", "a"], "ARM": [None, None], "AVAL": [1.0, 2.0]}),
              "ADVS": pd.DataFrame({"USUBJID": ["c", "a"], "ARM": pd.Series([None, None], dtype="str"),
                                    "AVAL": [3.0, 4.0]}),
              "ADXP": pd.DataFrame({"USUBJID": ["a", "d"], "ARM": ["Placebo", "UC-MSC"], "AVAL": [5.0, 6.0]})}
    for name, frame in frames.items():
        frame["PARAMCD"], frame["AVISITN"] = name[2:], 0
    for name, frame in frames.items():
        frame.to_parquet(tmp_path / f"{name.lower()}.parquet", index=False)
    got = combine_bds({n: read_held(tmp_path / f"{n.lower()}.parquet", columns, held) for n in frames})
    text = pd.concat([pd.read_parquet(tmp_path / f"{n.lower()}.parquet") for n in frames], ignore_index=True)
    expected = text.astype({"ARM": "str"}).sort_values(["USUBJID", "PARAMCD", "AVISITN"], kind="stable")
    expected = expected.reset_index(drop=True)
    pd.testing.assert_frame_equal(got[columns], expected[columns].astype({c: "category" for c in held}))


def test_a_column_that_is_not_text_is_refused_not_emptied(tmp_path):
    pd.DataFrame({"USUBJID": ["a"], "AVISITN": [4]}).to_parquet(tmp_path / "x.parquet", index=False)
    with pytest.raises(TypeError, match="AVISITN is stored as int64, not text"):
        read_held(tmp_path / "x.parquet", ["USUBJID", "AVISITN"], ["USUBJID", "AVISITN"])
