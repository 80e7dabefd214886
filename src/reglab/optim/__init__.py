"""Optimizer wrappers and post-step methods (catalog families A's decoupled forms, F and G)."""

__all__: list[str] = []
