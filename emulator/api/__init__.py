"""HTTP glue: parse FC requests, call the store and models, shape FC's responses."""
