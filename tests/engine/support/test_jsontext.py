"""JSON text: orjson's speed, the standard library's text, and nothing it can write left unwritten."""
from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, strategies as st

from engine.support import jsontext

# Everything the engine writes as JSON: text (any code point, lone surrogates included), integers of
# any size, booleans, null, lists and objects with text keys. (Floats it never writes.)
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)


def standard(data) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


@given(values)
def test_the_text_is_the_standard_librarys_and_reads_back(data):
    text = jsontext.dumps(data)
    assert text == standard(data)
    assert jsontext.loads(text) == data


@given(values)
def test_answer_bytes_are_the_text_in_utf8(data):
    try:
        expected = standard(data).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no UTF-8 holds it, the answer fails either way
        return
    assert jsontext.dumps_utf8(data) == expected


def test_what_orjson_refuses_is_written_by_the_standard_library():
    for data in ({"lone": "\udc80"}, 2 ** 70, {1: "a key that is a number"}, [-(2 ** 64)]):
        assert jsontext.dumps(data) == standard(data)
    assert jsontext.loads('"\\ud800"') == "\ud800"
    assert math.isnan(jsontext.loads("NaN"))
    assert jsontext.loads(str(2 ** 70)) == 2 ** 70


@pytest.mark.parametrize("number", [2 ** 64, -(2 ** 63) - 1, 10 ** 30 + 1, -(10 ** 40) - 7])
def test_integers_beyond_64_bits_read_back_exactly_not_as_floats(number):
    """orjson would read these as floats, losing their last digits: a process variable that changed."""
    for text in (f'{{"n":[{number}]}}', f'{{"n":[{number}]}}'.encode()):
        read = jsontext.loads(text)["n"][0]
        assert type(read) is int and read == number


@pytest.mark.parametrize("text", ["", "{", "[1,]", "nope"])
def test_what_is_not_json_is_a_value_error(text):
    with pytest.raises(ValueError):
        jsontext.loads(text)
