"""One base class, so each stage's entry point can turn any expected failure into a clear message."""


class PipelineError(Exception):
    """A failure caused by input (config, data, mirrors), not by a bug: shown without a traceback."""


class ConfigError(PipelineError):
    """A configuration value is missing or invalid; the message names the key."""


def first_line(err: BaseException) -> str:
    """An exception's message in one line (its type's name when it has none, as an IndexError may)."""
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__
