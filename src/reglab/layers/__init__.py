"""Stochastic layers and model surgery (catalog family E)."""

__all__: list[str] = []
