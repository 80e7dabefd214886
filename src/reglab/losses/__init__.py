"""Regularizing losses (catalog family D): loss modules like nn.CrossEntropyLoss."""

__all__: list[str] = []
