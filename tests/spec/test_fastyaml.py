"""The fast parser gives exactly what ruamel's YAML 1.2 loader gives: values and positions."""

from __future__ import annotations

import io
import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from gitdeploy.spec import fastyaml

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12),
    st.sampled_from(["no", "yes", "on", "off", "0444", "0o17", "0x1F", "~", "1e3", ".inf", "-.inf", "True", "NULL"]),
)
keys = st.text(st.characters(min_codepoint=97, max_codepoint=122), min_size=1, max_size=8)
docs = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(keys, inner, max_size=4)), max_leaves=20)


def fast(text: str):
    loaded = fastyaml.load(text)
    assert loaded.ok, loaded.problems
    return loaded.root


def dump(value) -> str:
    """ruamel's text for `value`; only documents ruamel itself reads back are compared (its emitter
    writes a few it cannot parse, e.g. `{a: ?0}`)."""
    buf = io.StringIO()
    y = YAML()
    y.default_flow_style = None
    y.dump({"root": value}, buf)
    text = buf.getvalue()
    try:
        YAML(typ="safe", pure=True).load(text)
    except YAMLError:
        assume(False)
    return text


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@settings(max_examples=150, deadline=None)
@given(docs)
def test_values_match_ruamel(value):
    text = dump(value)
    assert same(fast(text), YAML(typ="safe", pure=True).load(text))


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(keys, st.one_of(scalars, st.lists(scalars, max_size=3)), min_size=1, max_size=6))
def test_positions_match_ruamel_round_trip(value):
    text = dump(value)
    ours, theirs = fast(text)["root"], YAML().load(text)["root"]
    for k in theirs:
        assert ours.lc.key(k) == tuple(theirs.lc.key(k))
        if theirs[k] is not None:  # an empty value has no token; yamlnode points at its key
            assert ours.lc.value(k) == tuple(theirs.lc.value(k))
        if isinstance(theirs[k], list):
            for i in range(len(theirs[k])):
                assert ours[k].lc.item(i) == tuple(theirs[k].lc.item(i))


def test_yaml_1_2_words_and_libyaml_corner():
    doc = fast("a: no\nb: 0444\nc: {test: curl -f http://localhost}\nd: &x {k: 1}\ne: {<<: *x, j: 2}\n")
    assert doc == {"a": "no", "b": 444, "c": {"test": "curl -f http://localhost"}, "d": {"k": 1},
                   "e": {"j": 2, "k": 1}}


def test_invalid_yaml_is_an_error_not_a_value():
    with pytest.raises(fastyaml.YAMLSyntaxError):
        fastyaml.load("root: {a: ?0}\n")
