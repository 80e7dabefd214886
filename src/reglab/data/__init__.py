"""Batch transforms (catalog family C): modules (x, y) -> (x, soft targets)."""

__all__: list[str] = []
