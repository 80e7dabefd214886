"""Diagnostics (catalog family I): pure functions on tensors or a model."""

__all__: list[str] = []
