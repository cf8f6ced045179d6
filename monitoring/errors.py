"""Errors raised by the monitoring stage; each message says what was wrong and where to look."""

from __future__ import annotations


class MonitoringError(ValueError):
    """Base class: monitoring was given input it cannot evaluate."""


class MonitoringInputError(MonitoringError):
    """A reference, window or labelled frame lacks columns or holds values of the wrong type."""


class EmptyWindowError(MonitoringError):
    """The monitoring window holds no predictions, so there is nothing to compare."""


class LogFormatError(MonitoringError):
    """A prediction or label log line is unreadable or lacks a required key.

    A truncated last line is not an error: the readers skip and count it.
    """


class SummaryFormatError(MonitoringError):
    """A stored window summary cannot be read back (wrong or missing fields)."""


class MetricNotFoundError(MonitoringError):
    """An Evidently snapshot holds no metric, or several, with the requested name and config."""
