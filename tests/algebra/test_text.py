"""The text form: str(expr) prints it, ia.parse reads it back to the same structure, never with eval."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import imalgebra as ia
from imalgebra.algebra.text import MAX_DEPTH, ParseError, leaf_names, to_text

F32 = ia.PixelType.Float32
A = ia.Image.zeros((6, 5), F32)
B = ia.Image.zeros((6, 5), F32, spacing=(1.0, 1.0))
C = ia.Image.zeros((6, 5), F32)
M = ia.Image.zeros((6, 5), ia.PixelType.Int16)
RGB = ia.Image.zeros((6, 5), ia.PixelType.VectorUInt8, components=3)


def round_trip(expr):
    text = str(expr)
    back = ia.parse(text, **leaf_names(expr))
    assert back.equals(expr), text
    return text


# -- printing: operators with Python's precedence, only the parentheses needed -------------------
@pytest.mark.parametrize(
    ("build", "text"),
    [
        (lambda a, b, c: a + b, "a + b"),
        (lambda a, b, c: a - (b - c), "a - (b - c)"),
        (lambda a, b, c: (a - b) - c, "a - b - c"),
        (lambda a, b, c: a / (b * c), "a / (b * c)"),
        (lambda a, b, c: (a + b) * c, "(a + b) * c"),
        (lambda a, b, c: -(a - b) * 0.5 + c**2, "-(a - b) * 0.5 + c ** 2"),
        (lambda a, b, c: (-a) ** 2, "(-a) ** 2"),
        (lambda a, b, c: -(a**2), "-a ** 2"),
        (lambda a, b, c: a ** (b**c), "a ** b ** c"),
        (lambda a, b, c: (a**b) ** c, "(a ** b) ** c"),
        (lambda a, b, c: a**-b, "a ** -b"),
        (lambda a, b, c: 2**a, "2 ** a"),
        (lambda a, b, c: a - -1.5, "a - -1.5"),
        (lambda a, b, c: (a < b) + 1, "(a < b) + 1"),
        (lambda a, b, c: (a < b) == (b < c), "(a < b) == (b < c)"),
        (lambda a, b, c: a * np.float32(2.5), "a * float32(2.5)"),
        (lambda a, b, c: a + float("nan"), "a + nan"),
        (lambda a, b, c: a * float("-inf"), "a * -inf"),
        (lambda a, b, c: abs(a - b) // 2 % 5, "abs(a - b) // 2 % 5"),
        (lambda a, b, c: ia.clamp((a - b) * 0.5 + c, 0, 100), "clamp((a - b) * 0.5 + c, lower=0, upper=100)"),
        (lambda a, b, c: ia.gabor(size=(6, 5), frequency=0.03) + a, "gabor(size=(6, 5), frequency=0.03) + a"),
        (lambda a, b, c: (a + b)[1:, ::-2], "(a + b)[1:, ::-2]"),
        (lambda a, b, c: ia.extract(a, (1, 1), (2, 3)), "extract(a, index=(1, 1), size=(2, 3))"),
        (lambda a, b, c: ia.compose(a, b, c), "compose(a, b, c)"),
    ],
)
def test_operators_print_with_python_precedence_and_parse_back(build, text):
    expr = build(A, B, C)
    assert str(expr).replace("lower=0.0", "lower=0").replace("upper=100.0", "upper=100") == text
    round_trip(expr)


def test_integer_operators_print_and_parse_back():
    for expr in (~M & 3 | M ^ 1, M % 7, M // -2, -(~M), (M & M) ^ (M | 1)):
        round_trip(expr)


def test_the_text_form_of_the_design_example_round_trips():
    expr = ia.parse("clamp((a - b) * 0.5 + c, 0, 100)", a=A, b=B, c=C)
    assert expr.equals(ia.clamp((A - B) * 0.5 + C, 0, 100))
    assert ia.parse(str(expr), a=A, b=B, c=C).equals(expr)


# -- names ------------------------------------------------------------------------------------
def test_leaves_are_named_in_order_of_first_appearance():
    expr = (C + A) * B
    assert str(expr) == "(a + b) * c"
    names = leaf_names(expr)
    assert names["a"] is C and names["b"] is A and names["c"] is B


def test_names_given_to_parse_are_printed_again():
    expr = ia.parse("ct / (mask + 1)", ct=A, mask=B)
    assert str(expr) == "ct / (mask + 1)"
    assert str(expr * 2) == "ct / (mask + 1) * 2"  # built on top of a parsed expression
    assert to_text(A + B, names={"left": A}) == "left + a"


def test_names_do_not_clash_with_functions_or_temporaries():
    expr = ia.parse("exp_ + t1", exp_=A, t1=B)  # t1 looks like a temporary: renamed when printed
    assert str(expr) == "exp_ + a"
    d = ia.parse("x - y", x=A, y=B)
    assert str(d * d) == "t1 = x - y\nt1 * t1"
    round_trip(d * d)


# -- shared and deep expressions stay linear ---------------------------------------------------------
def test_shared_subexpressions_are_printed_once():
    d = A - B
    expr = d * d + ia.sqrt(d)
    assert str(expr) == "t1 = a - b\nt1 * t1 + sqrt(t1)"
    round_trip(expr)


def test_a_doubling_graph_prints_in_linear_size():
    expr = A
    for _ in range(60):
        expr = expr + expr  # 2**60 leaves if expanded
    text = round_trip(expr)
    assert len(text) < 2000


def test_a_chain_of_five_thousand_nodes_prints_and_parses_back():
    expr = A
    for k in range(5000):
        expr = expr * 1.0001 if k % 2 else expr + 1
    text = round_trip(expr)
    assert text.count("\n") >= 5000 // MAX_DEPTH - 1


# -- parse: clear errors with positions, an allow-list, never eval ------------------------------------
def test_syntax_errors_say_where():
    with pytest.raises(ParseError) as info:
        ia.parse("a + (b *", a=A, b=B)
    assert info.value.lineno == 1 and "invalid syntax" in info.value.msg
    assert isinstance(info.value, SyntaxError) and isinstance(info.value, ia.ImageAlgebraError)


def test_unknown_names_list_the_known_ones():
    with pytest.raises(ParseError, match=r"unknown name 'd'; known images: a, b; functions: .*clamp") as info:
        ia.parse("a + d", a=A, b=B)
    assert (info.value.lineno, info.value.offset) == (1, 5)
    with pytest.raises(ParseError, match=r"did you mean 'CT'"):
        ia.parse("ct + 1", CT=A)
    with pytest.raises(ParseError, match="unknown function 'blur'"):
        ia.parse("blur(a)", a=A)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("__import__('os').system('true')", "only named functions can be called|unknown function"),
        ("open('/etc/passwd')", "unknown function 'open'"),
        ("a.__class__", "only PixelType.<name> attributes"),
        ("(lambda: 1)()", "only named functions can be called"),
        ("[x for x in a]", "ListComp is not part of the expression language"),
        ("a if b else c", "IfExp is not part of"),
        ("a and b", "'and'/'or' are not allowed"),
        ("not a", "'not' is not allowed"),
        ("a < b < c", "chained comparisons"),
        ("a in b", "the comparison In is not allowed"),
        ("{1: a}", "Dict is not part of"),
        ("f'{a}'", "JoinedStr is not part of"),
        ("a @ b", "MatMult"),
        ("clamp(*[a])", r"\*arguments are not allowed"),
        ("clamp(a, **{'lower': 0})", r"\*\*keywords are not allowed"),
        ("a(1)", "'a' is an image, not a function"),
        ("clamp + a", "'clamp' is a function"),
        ("PixelType", "PixelType is used with a member name"),
        ("cast(a, PixelType.Float128)", "PixelType has no member 'Float128'"),
        ("2 ** 100000", "too large a constant"),
        ("1 + 2", "describes a int"),
        ("a[1, 2]", "a pixel index gives a value"),
        ("a[1.5:]", "slice bounds must be integers"),
        ("import os", "only 'name = expression' lines|the last line must be an expression"),
        ("a = b\na", "'a' is already a name here"),
        ("t = a\nt = b\nt", "'t' is already a name here"),
        ("", "the expression is empty"),
        ("...", "the literal Ellipsis is not allowed"),
    ],
)
def test_anything_outside_the_language_is_refused_before_it_runs(text, match):
    with pytest.raises(ParseError, match=match):
        ia.parse(text, a=A, b=B, c=C)


def test_errors_from_building_nodes_keep_their_type_and_say_where():
    other = ia.Image.zeros((6, 5), F32, origin=(1.0, 0.0))
    with pytest.raises(ia.PhysicalSpaceError) as info:
        ia.parse("a * 2 + b", a=A, b=other)
    notes = getattr(info.value, "__notes__", [])
    assert any("line 1" in n for n in notes)


def test_parse_checks_its_arguments():
    with pytest.raises(TypeError, match="a str"):
        ia.parse(b"a + 1", a=A)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be an image"):
        ia.parse("a + 1", a=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="reserved"):
        ia.parse("nan + 1", nan=A)


def test_assignment_lines_and_walrus_are_accepted():
    expr = ia.parse("d = a - b\nd * d", a=A, b=B)
    assert expr.equals((A - B) * (A - B))
    assert ia.parse("(d := a - b) * d", a=A, b=B).equals(expr)


def test_literals_for_parameters_and_constants():
    expr = ia.cast(A * np.int16(3) + complex(0.0, -0.0), ia.PixelType.ComplexFloat64)
    text = round_trip(expr)
    assert "PixelType.ComplexFloat64" in text and "int16(3)" in text and "complex(0.0, -0.0)" in text
    assert ia.parse("a + -2", a=A).equals(A + -2)
    assert ia.parse("a + (1 - 3) * 2.5", a=A).equals(A + -5.0)


# -- every node kind round-trips ----------------------------------------------------------------------
BINARY = [
    lambda x, y: x + y,
    lambda x, y: x - y,
    lambda x, y: x * y,
    lambda x, y: x / y,
    lambda x, y: x // y,
    lambda x, y: x % y,
    lambda x, y: x**y,
    lambda x, y: x < y,
    lambda x, y: x >= y,
    lambda x, y: x == y,
    lambda x, y: x != y,
    lambda x, y: ia.minimum(x, y),
    lambda x, y: ia.atan2(x, y),
]
UNARY = [
    lambda x: -x,
    abs,
    ia.exp,
    ia.sqrt,
    ia.round,
    lambda x: ia.cast(x, ia.PixelType.Int16),
    lambda x: ia.clamp(x, -1.5, 2),
    lambda x: ia.clamp(x, pixel_type=ia.PixelType.UInt8),
    lambda x: ia.where(x > 0, x, 0.5),
    lambda x: ia.rescale_intensity(x, -1, 1),
    lambda x: x[::-1, 1:4],
    lambda x: ia.extract(x, (1, 0), (3, 4)),
    lambda x: ia.paste(x, ia.gaussian(size=(2, 2), pixel_type=x.pixel_type), destination_index=(1, 1)),
    lambda x: ia.select_component(ia.compose(x, x * 2), 1),
]
CONSTANTS = st.sampled_from([0, 1, -2, 0.5, -0.0, 1e-300, float("nan"), np.float32(1.5), np.int8(3)])


@st.composite
def expressions(draw, depth=4):
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from([A, B, C, ia.gabor(size=(6, 5), frequency=0.1)]))
    if draw(st.booleans()):
        left = draw(expressions(depth - 1))
        right = draw(expressions(depth - 1)) if draw(st.booleans()) else draw(CONSTANTS)
        if draw(st.booleans()):
            left, right = right, left
        build = draw(st.sampled_from(BINARY))
        try:
            return build(left, right)
        except (ia.ImageAlgebraError, TypeError, ValueError):
            return draw(expressions(depth - 1))
    arg = draw(expressions(depth - 1))
    try:
        return draw(st.sampled_from(UNARY))(arg)
    except (ia.ImageAlgebraError, TypeError, ValueError):
        return arg


@given(expressions())
def test_random_expressions_print_and_parse_back_to_the_same_structure(expr):
    if isinstance(expr, ia.Image):
        return
    round_trip(expr)


def test_vector_expressions_round_trip():
    for expr in (RGB * 2, ia.select_component(RGB, 2, pixel_type=F32) + A, ia.rescale_intensity(RGB)):
        round_trip(expr)


def test_repr_shows_the_text_form():
    assert repr(A + B).endswith(": a + b>")
