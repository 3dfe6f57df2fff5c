"""resource.Quantity: exact values, canonical text, integer views and error texts."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from kubepy.api.quantity import (
    QuantityError,
    QuantityFormat,
    canonical_quantity,
    format_quantity,
    parse,
    parse_quantity,
    quantity_to_int,
    quantity_to_millis,
    validate_quantity,
)

REGEX_ERROR = (
    "quantities must match the regular expression "
    "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)


@pytest.mark.parametrize(
    "text, canonical",
    [
        ("0", "0"),
        ("1000m", "1"),
        ("0.5", "500m"),
        ("1.5", "1500m"),
        ("1024Mi", "1Gi"),
        ("1.5Gi", "1536Mi"),
        ("100Mi", "100Mi"),
        ("1536Ki", "1536Ki"),
        ("0.1Ki", "102400m"),
        ("1.1Ki", "1126400m"),
        ("512Ki", "512Ki"),
        ("1000", "1k"),
        ("1500", "1500"),
        ("128974848", "128974848"),
        ("129M", "129M"),
        ("129e6", "129e6"),
        ("10e2", "1e3"),
        ("12e-3", "12e-3"),
        ("0.1m", "100u"),
        ("0.5n", "1n"),
        ("1e-12", "1e-9"),
        ("-1.5Gi", "-1536Mi"),
        ("-0.5", "-500m"),
        ("2000m", "2"),
        (" 250m ", "250m"),
        ("8Ei", "9223372036854775807"),
        ("0.000001", "1u"),
        ("1.000", "1"),
    ],
    ids=["zero", "milli-to-unit", "half", "one-and-half", "mi-to-gi", "gi-fraction",
         "mi-kept", "ki-not-reducible", "binary-below-1024", "binary-fraction",
         "binary-small-int", "thousand-to-k", "no-exponent-fits", "plain-int", "mega",
         "exponent", "exponent-normalised", "negative-exponent", "sub-milli",
         "sub-nano-rounds-up", "exponent-below-nano", "negative-binary", "negative-decimal",
         "whole-milli", "whitespace-trimmed", "binary-capped-at-int64", "micro",
         "trailing-zeros"],
)
def test_canonical(text: str, canonical: str) -> None:
    assert canonical_quantity(text) == canonical


@pytest.mark.parametrize(
    "text, echoed",
    [("+1Ki", "+1Ki"), ("01", "01"), ("1E3", "1E3"), ("1.k", "1.k"), ("1000E", "1")],
    ids=["plus-sign", "leading-zero", "capital-exponent", "trailing-dot", "beyond-exa"],
)
def test_go_quirks(text: str, echoed: str) -> None:
    """Strings Go keeps verbatim on its fast path, and the suffix lost past E."""
    assert canonical_quantity(text) == echoed


@pytest.mark.parametrize(
    "value, fmt",
    [
        ("0", QuantityFormat.DECIMAL_SI), ("5", QuantityFormat.DECIMAL_SI),
        ("1Ki", QuantityFormat.BINARY_SI), ("0.5Ki", QuantityFormat.BINARY_SI),
        ("0.0001Ki", QuantityFormat.DECIMAL_SI), ("1e3", QuantityFormat.DECIMAL_EXPONENT),
        ("1E", QuantityFormat.DECIMAL_SI),
    ],
    ids=["zero", "plain", "binary", "binary-fraction-above-one", "binary-below-one",
         "exponent", "exa"],
)
def test_format_remembered(value: str, fmt: QuantityFormat) -> None:
    assert parse(value).format is fmt


@pytest.mark.parametrize(
    "text, value",
    [
        ("1000m", Decimal(1)),
        ("1.5Gi", Decimal(1610612736)),
        ("100m", Decimal("0.1")),
        ("1Ei", Decimal(2**60)),
        ("1E", Decimal(10**18)),
        ("3n", Decimal("3E-9")),
        ("-2.5k", Decimal(-2500)),
        ("1e999999999", Decimal("1E+999999999")),
        (2, Decimal(2)),
        (0.25, Decimal("0.25")),
    ],
    ids=["milli", "binary-fraction", "decimal-fraction", "exbi", "exa", "nano", "negative",
         "huge-exponent-stays-cheap", "json-int", "json-float"],
)
def test_parse_value(text: str | int | float, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    "text, message",
    [
        ("", REGEX_ERROR),
        ("abc", REGEX_ERROR),
        ("1.2.3", REGEX_ERROR),
        ("1 Gi", REGEX_ERROR),
        ("1x", REGEX_ERROR),
        (True, REGEX_ERROR),
        ("1Ki3", "unable to parse quantity's suffix"),
        ("1e", "unable to parse quantity's suffix"),
        ("1KB", REGEX_ERROR),
        ("1mi", "unable to parse quantity's suffix"),
        ("Ei", "unable to parse numeric part of quantity"),
        ("e-12", "unable to parse numeric part of quantity"),
    ],
    ids=["empty", "letters", "two-dots", "inner-space", "unknown-suffix-char", "json-bool",
         "digits-after-binary", "bare-e", "bytes-suffix", "lowercase-mi", "no-digits-slow",
         "no-digits-exponent"],
)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(QuantityError) as err:
        parse_quantity(text)
    assert err.value.message == message
    assert validate_quantity(text) == [message]


@pytest.mark.parametrize("text", ["Ki", ".", "-", "+", "0.0"],
                         ids=["bare-binary-suffix", "dot", "minus", "plus", "zero-point"])
def test_degenerate_zero(text: str) -> None:
    """Go's scanner reads these as zero rather than rejecting them."""
    assert parse_quantity(text) == 0
    assert validate_quantity(text) == []


@pytest.mark.parametrize(
    "text, whole, millis",
    [
        ("1", 1, 1000),
        ("1500m", 2, 1500),
        ("0.1m", 1, 1),
        ("100m", 1, 100),
        ("1Ki", 1024, 1024000),
        ("-1500m", -2, -1500),
        ("-0.1m", -1, -1),
        ("0", 0, 0),
        ("1e999999999", 2**63 - 1, 2**63 - 1),
    ],
    ids=["one", "rounds-up", "sub-milli-rounds-up", "tenth", "kibi", "negative-away-from-zero",
         "negative-sub-milli", "zero", "saturates"],
)
def test_integer_views(text: str, whole: int, millis: int) -> None:
    assert quantity_to_int(text) == whole
    assert quantity_to_millis(text) == millis


@pytest.mark.parametrize(
    "value, fmt, text",
    [
        (Decimal("0.5"), QuantityFormat.DECIMAL_SI, "500m"),
        (Fraction(1, 3), QuantityFormat.DECIMAL_SI, "333333334n"),
        (1536 * 2**20, QuantityFormat.BINARY_SI, "1536Mi"),
        (1000, "DecimalSI", "1k"),
        (Decimal(1000), "DecimalExponent", "1e3"),
        (100, QuantityFormat.BINARY_SI, "100"),
        (0, QuantityFormat.BINARY_SI, "0"),
        ("1.50", QuantityFormat.DECIMAL_EXPONENT, "1500m"),
    ],
    ids=["decimal", "fraction-rounds-up-to-nano", "binary", "format-by-name",
         "exponent", "binary-small-falls-back", "zero", "string-keeps-own-format"],
)
def test_format_quantity(value, fmt, text: str) -> None:
    assert format_quantity(value, fmt) == text
