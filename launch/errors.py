"""Errors that mean "the user asked for something that cannot be": the CLI
prints their message (which says what was wrong and what is accepted) and
exits with status 2, without a traceback."""


class UsageError(ValueError):
    """Bad input: an unknown name, an impossible option, an unusable file."""
