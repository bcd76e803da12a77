"""Reports computed by the engine: the data-quality profile."""
