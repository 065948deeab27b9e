"""Checks: each a small class in its own module, listed in ``registry.REGISTRY``."""
