"""digitocr's built-in backends, loaded through the ``digitocr`` entry-point group."""
