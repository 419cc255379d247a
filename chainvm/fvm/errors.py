"""Errors shared by the VM and the modules it builds on (state, layouts)."""

from __future__ import annotations


class FatalError(Exception):
    """A condition in which the reference VM returns an error instead of a
    receipt (a consensus failure), or a feature this VM does not implement."""
