"""digitocr: read handwritten digits on scanned documents."""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("digitocr")

__all__ = ["__version__", "hookimpl"]
