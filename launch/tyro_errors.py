"""tyro's parse errors as one line each, naming the flag and what it accepts.

tyro reports a bad option in a multi-line box whose text can name its own
internal wrappers (``__tyro-dummy-inner__``); our commands promise one line
and exit status 2. tyro offers a hook that fires before it prints
(``tyro._errors.on_parse_error``, marked experimental); :func:`one_line_errors`
raises a ``UsageError`` from it, which ``launch.cli`` prints as one line. On
a tyro without the hook, its own box is what the user sees.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import importlib

from launch.errors import UsageError


#: tyro's terse reasons, in words
_REASONS = {"too_few_values": "needs a value", "too_many_values": "takes fewer values"}


def flags_of(experiment_type: type) -> list[str]:
    """Every ``--group.field`` flag of an experiment dataclass (for near matches of unknown ones)."""
    flags = []
    for group in dataclasses.fields(experiment_type):
        if dataclasses.is_dataclass(group.type):
            flags += [f"--{group.name}.{field.name.replace('_', '-')}" for field in dataclasses.fields(group.type)]
    return flags


def _flag(argument) -> str:
    lowered = getattr(argument, "lowered", None)
    names = getattr(lowered, "name_or_flags", None) or ()
    return "/".join(names) or str(getattr(lowered, "metavar", "") or "an argument")


def describe(event, errors, known_flags: list[str]) -> str | None:
    """One line for a tyro parse-error event, or None to leave it to tyro."""
    if isinstance(event, errors.InstantiationFailure):
        return event.message
    if isinstance(event, errors.InvalidChoice):
        # sorted: tyro hands them over in no fixed order; an optional field's unset value is not a choice to type
        choices = sorted(str(c) for c in event.choices if str(c) != "None")
        close = difflib.get_close_matches(event.value, choices, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        return f"{_flag(event.argument)}: {event.value!r} is not accepted.{hint} Accepted: {', '.join(choices)}"
    if isinstance(event, errors.BadValue):
        shown = f" {event.offending_value!r}" if event.offending_value is not None else ""
        return f"{_flag(event.argument)}{shown}: {_REASONS.get(str(event.reason), event.reason)}"
    if isinstance(event, errors.UnrecognizedArgs):
        parts = []
        for token in event.tokens:
            close = difflib.get_close_matches(token.split("=")[0], known_flags, n=3, cutoff=0.6) if token.startswith("--") else []
            parts.append(f"{token}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
        return f"unrecognized option{'s' if len(parts) > 1 else ''}: {'; '.join(parts)}"
    if isinstance(event, errors.MissingArgs):
        return "missing " + ", ".join(str(getattr(a, "arg", a)) for a in event.missing_arguments)
    return None


@contextlib.contextmanager
def one_line_errors(prog: str, known_flags: list[str] = ()):
    """Inside, a tyro parse error raises a one-line ``UsageError`` ending with where help is."""
    try:
        errors = importlib.import_module("tyro._errors")
        register = errors.on_parse_error
    except (ImportError, AttributeError):
        yield
        return

    def handle(event) -> None:
        line = describe(event, errors, list(known_flags))
        if line is not None:
            raise UsageError(f"{line} (see {prog} --help)")

    with register(handle):
        yield
