"""Text helpers: prose extraction from submission files and language decisions."""
