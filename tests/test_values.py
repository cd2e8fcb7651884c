"""Values read from text and checked against annotations, with the key named in every error."""

from typing import Any, Literal

import pytest

from specops.values import ConfigError, coerce, coercible, parse_assignment, parse_value


def test_parse_value_reads_numbers_yaml_leaves_as_strings():
    assert parse_value("1e-3") == 1e-3 and parse_value("3") == 3 and parse_value("[1, 2]") == [1, 2]
    assert parse_value("gelu") == "gelu" and parse_value("null") is None and parse_value("a: [") == "a: ["
    assert parse_assignment("model.args.rank=0.5") == ("model.args.rank", 0.5)
    with pytest.raises(ConfigError, match="must look like key=value"):
        parse_assignment("rank 0.5")


@pytest.mark.parametrize(
    ("value", "tp", "expected"),
    [
        ("4", int, 4),
        ("2.5", float, 2.5),
        ("yes", bool, True),
        ("none", int | None, None),
        ("8,8", list[int], [8, 8]),
        ("[0.9, 0.99]", tuple[float, float], (0.9, 0.99)),
        ("auto", float | Literal["auto"], "auto"),
        ({"rank": "0.5"}, dict[str, float], {"rank": 0.5}),
    ],
)
def test_coerce_converts_to_the_annotation(value, tp, expected):
    assert coerce(value, tp, "key") == expected


def test_coerce_names_the_key_and_the_choices():
    with pytest.raises(ConfigError, match=r"^x\[1\]='b' is not an integer$"):
        coerce(["1", "b"], list[int], "x")
    with pytest.raises(ConfigError, match=r"not one of 'gelu', 'relu'\. Did you mean 'gelu'\?"):
        coerce("gelx", Literal["gelu", "relu"], "act")
    assert (
        coercible(int | None) and coercible(list[float]) and not coercible(type) and not coercible(Any | type)
    )
