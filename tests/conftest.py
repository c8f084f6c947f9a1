"""Settings for the whole suite."""

from __future__ import annotations

from hypothesis import settings

# Hypothesis's per-example deadline is a timed assertion: on a loaded machine (CI, or tests
# running beside others) a slow example fails a property that holds. Properties are about
# behaviour here; speed is measured in bench/.
settings.register_profile("micro-mcp", deadline=None)
settings.load_profile("micro-mcp")
