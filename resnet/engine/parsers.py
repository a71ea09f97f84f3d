"""Parsers of option values: text -> a typed value, or a UsageError with one line naming
the option and what is valid. The sweep's options (resnet.engine.options) are built from
them; the commands use them too (resnet.commands.common)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from resnet.engine.errors import UsageError
from resnet.schema import MODES


def split_items(text: Any, option: str) -> list[str]:
    items = [s.strip() for s in str(text).split(",") if s.strip()]
    if not items:
        raise UsageError(f"{option} is empty; give a comma-separated list")
    return items


def choices(option: str, valid: tuple[str, ...]) -> Callable[[Any], tuple[str, ...]]:
    """A parser of a comma-separated list of names out of ``valid``."""

    def parse(text: Any) -> tuple[str, ...]:
        items = split_items(text, option)
        for item in items:
            if item not in valid:
                raise UsageError(f"{option}: unknown value {item!r}; valid: {', '.join(valid)}")
        return tuple(dict.fromkeys(items))

    return parse


def positive_int(item: str, option: str) -> int:
    """``item`` as a whole number of at least 1; else a UsageError naming ``option``."""
    try:
        value = int(item)
    except ValueError:
        value = 0
    if value < 1 or str(value) != item.strip().lstrip("+"):
        raise UsageError(f"{option}: {item!r} is not a positive integer")
    return value


def positive_ints(option: str) -> Callable[[Any], tuple[int, ...]]:
    """A parser of a comma-separated list of positive integers (an axis)."""

    def parse(text: Any) -> tuple[int, ...]:
        return tuple(dict.fromkeys(positive_int(i, option) for i in split_items(text, option)))

    return parse


def one_int(option: str, minimum: int) -> Callable[[Any], int]:
    """A parser of exactly one integer of at least ``minimum``."""

    def parse(text: Any) -> int:
        items = split_items(text, option)
        if len(items) != 1:
            raise UsageError(f"{option} takes one value, not a list ({text!r})")
        try:
            value = int(items[0])
        except ValueError:
            raise UsageError(f"{option}: {items[0]!r} is not an integer") from None
        if value < minimum:
            what = "too small; the smallest is" if option == "--image-size" else "less than"
            raise UsageError(f"{option}: {value} is {what} {minimum}")
        return value

    return parse


def turned_off(text: Any, empty: bool = True) -> bool:
    """Whether an option's text turns its rule off (``off``, ``none``, and where ``empty``, nothing)."""
    return str(text).strip().lower() in (("off", "none", "") if empty else ("off", "none"))


def _finite(raw: str, suffix: str) -> float:
    """The number in ``raw`` (a trailing unit ``suffix`` allowed), NaN when there is none."""
    try:
        return float(raw.removesuffix(suffix))
    except ValueError:
        return math.nan


def seconds(option: str, maximum: float) -> Callable[[Any], float]:
    """A parser of a finite number of seconds in (0, maximum] (a trailing ``s`` is allowed)."""

    def parse(text: Any) -> float:
        raw = str(text).strip()
        value = _finite(raw, "s")
        if not (math.isfinite(value) and 0 < value <= maximum):
            raise UsageError(f"{option}: {raw!r} is not a number of seconds between 0 and {maximum:g}")
        return value

    return parse


def minutes(option: str, maximum: float) -> Callable[[Any], float]:
    """A parser of a number of minutes in (0, maximum] (a trailing ``min`` allowed), as
    seconds; ``off``: 0, no limit."""

    def parse(text: Any) -> float:
        raw = str(text).strip()
        if turned_off(raw, empty=False):
            return 0.0
        value = _finite(raw, "min")
        if not (math.isfinite(value) and 0 < value <= maximum):
            raise UsageError(
                f"{option}: {raw!r} is not a number of minutes between 0 and {maximum:g} (or off)"
            )
        return 60 * value

    return parse


def seconds_per_mode(option: str) -> Callable[[Any], tuple[tuple[str, float], ...]]:
    """A parser of ``50`` (every mode) or ``inference:50,training:25`` -> ((mode, seconds),
    ...): a bare number sets every mode, a later ``MODE:SECONDS`` overrides it; ``off`` for none."""
    one = seconds(option, 3600.0)

    def parse(text: Any) -> tuple[tuple[str, float], ...]:
        raw = str(text).strip()
        if turned_off(raw):
            return ()
        out: dict[str, float] = {}
        for item in split_items(raw, option):
            mode, sep, value = item.rpartition(":")
            if sep and mode not in MODES:
                raise UsageError(
                    f"{option}: {item!r} names no mode; give SECONDS or MODE:SECONDS,... "
                    f"with MODE one of {', '.join(MODES)} (e.g. inference:50,training:25)"
                )
            out.update({m: one(value) for m in ((mode,) if sep else MODES)})
        return tuple(out.items())

    return parse


def percent(option: str, maximum: float) -> Callable[[Any], float]:
    """A parser of a percentage in (0, maximum] (a trailing ``%`` is allowed); ``off``: 0, no rule."""

    def parse(text: Any) -> float:
        raw = str(text).strip()
        if turned_off(raw, empty=False):
            return 0.0
        value = _finite(raw, "%")
        if not (math.isfinite(value) and 0 < value <= maximum):
            raise UsageError(f"{option}: {raw!r} is not a percentage between 0 and {maximum:g} (or off)")
        return value

    return parse


def milliseconds(option: str) -> Callable[[Any], float]:
    """A parser of a finite, positive number of milliseconds (a trailing ``ms`` is allowed)."""

    def parse(text: Any) -> float:
        raw = str(text).strip()
        value = _finite(raw, "ms")
        if not (math.isfinite(value) and value > 0):
            raise UsageError(f"{option}: {raw!r} is not a positive number of milliseconds")
        return value

    return parse
