"""The calculator's arithmetic, with numbers printed as the TypeScript reference prints them."""

from __future__ import annotations

import math
from decimal import Decimal

BINARY_OPERATIONS = ("add", "subtract", "multiply", "divide")
ADVANCED_OPERATIONS = ("factorial", "power", "sqrt", "log", "sin", "cos", "tan")
MAX_FACTORIAL = 170  # 171! is beyond a double


class CalculationError(Exception):
    """A domain error: answered as an error result, never stored."""


def js_number(value: float | int) -> str:
    """A number as JavaScript's String(n) writes it: 12 not 12.0, 1e-7, 0.000001, 1e+21."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    mantissa, _, exponent = text.partition("e")
    if not exponent:
        return text
    power = int(exponent)
    if -7 < power < 21:
        return format(Decimal(text), "f")
    return f"{mantissa}e{'+' if power > 0 else '-'}{abs(power)}"


def plain(value: float | int) -> float | int:
    """Integral floats as ints, so stored JSON reads 12, as the reference's does."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _finite(result: float) -> float:
    if not math.isfinite(result):
        raise CalculationError("Result is not a finite number")
    return result


def binary(op: str, a: float, b: float) -> float:
    if op == "add":
        return _finite(a + b)
    if op == "subtract":
        return _finite(a - b)
    if op == "multiply":
        return _finite(a * b)
    if op == "divide":
        if b == 0:
            raise CalculationError("Division by zero is not allowed")
        return _finite(a / b)
    raise CalculationError(f"Unknown operation: {op}")


def _factorial(value: float, base: float | None) -> float:
    if value < 0 or not float(value).is_integer():
        raise CalculationError("Factorial requires non-negative integer")
    if value > MAX_FACTORIAL:
        raise CalculationError(f"Factorial requires an integer no larger than {MAX_FACTORIAL}")
    return float(math.factorial(int(value)))


def _power(value: float, base: float | None) -> float:
    if base is None:
        raise CalculationError("Power operation requires base parameter")
    try:
        return _finite(math.pow(base, value))
    except OverflowError:
        raise CalculationError("Result is not a finite number") from None
    except ValueError:
        raise CalculationError("Power result is not a real number") from None


def _sqrt(value: float, base: float | None) -> float:
    if value < 0:
        raise CalculationError("Square root of negative number")
    return math.sqrt(value)


def _log(value: float, base: float | None) -> float:
    if value <= 0:
        raise CalculationError("Logarithm requires positive number")
    if base is None:
        return math.log(value)
    if base <= 0 or base == 1:
        raise CalculationError("Logarithm base must be positive and not 1")
    return math.log(value) / math.log(base)


def _trigonometric(name: str):
    return lambda value, base: _finite(getattr(math, name)(value))


_ADVANCED = {
    "factorial": _factorial,
    "power": _power,
    "sqrt": _sqrt,
    "log": _log,
    **{name: _trigonometric(name) for name in ("sin", "cos", "tan")},
}


def advanced(operation: str, value: float, base: float | None) -> float:
    function = _ADVANCED.get(operation)
    if function is None:
        raise CalculationError(f"Unknown operation: {operation}")
    return function(value, base)


def advanced_expression(operation: str, value: float, base: float | None, result: float) -> str:
    argument = js_number(value) + (f", {js_number(base)}" if base is not None else "")
    return f"{operation}({argument}) = {js_number(result)}"


def binary_expression(op: str, a: float, b: float, result: float) -> str:
    return f"{js_number(a)} {op} {js_number(b)} = {js_number(result)}"
