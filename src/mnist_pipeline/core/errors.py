"""One base class, so each stage's entry point can turn any expected failure into a clear message."""


class PipelineError(Exception):
    """A failure caused by input (config, data, mirrors), not by a bug: shown without a traceback."""


class ConfigError(PipelineError):
    """A configuration value is missing or invalid; the message names the key."""
