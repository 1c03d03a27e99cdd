"""FC's resources as pydantic models: wire rules, defaults, validation, names and limits."""
