"""digitocr's built-in plugins, imported directly by ``digitocr.plugins`` (``BUILTIN_PLUGINS``)."""
