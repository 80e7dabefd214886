"""Private helpers of model surgery: find modules by name and swap them in their parent."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn


def get_module(model: nn.Module, name: str, argument: str) -> nn.Module:
    """The submodule called ``name`` (``""`` is the model); unknown names raise naming ``argument``."""
    try:
        return model.get_submodule(name)
    except AttributeError:
        names = [n for n, _ in model.named_modules() if n]
        raise ValueError(
            f"{argument} must name a submodule of the model, got {name!r}; "
            f"submodules: {', '.join(names[:12])}{', ...' if len(names) > 12 else ''}"
        ) from None


def set_module(model: nn.Module, name: str, module: nn.Module) -> None:
    """Replace the submodule called ``name`` (not the root) by ``module``."""
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name)
    setattr(parent, child, module)


def parent_of(model: nn.Module, name: str) -> nn.Module | None:
    """The module holding submodule ``name``, or ``None`` for the root."""
    if not name:
        return None
    return model.get_submodule(name.rpartition(".")[0])


def final_layer_name(model: nn.Module, name: str | None, argument: str) -> str:
    """``name`` checked against ``model``, or the name of the last ``nn.Linear`` when ``None``."""
    if name is None:
        linears = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
        if not linears:
            raise ValueError(f"model has no nn.Linear layer; name the layer with {argument}=")
        return linears[-1]
    if not isinstance(name, str):
        raise TypeError(f"{argument} must be a submodule name or None, got {type(name).__name__}")
    get_module(model, name, argument)
    return name


def wrap_module(
    model: nn.Module, name: str, wrapper: type[nn.Module], build: Callable[[nn.Module], nn.Module]
) -> nn.Module:
    """Replace submodule ``name`` by ``build(module)`` unless it, or its parent, is a ``wrapper``.

    Returns the model, or the wrapped model when ``name`` is the root.
    """
    module = model.get_submodule(name)
    if isinstance(module, wrapper) or isinstance(parent_of(model, name), wrapper):
        return model
    wrapped = build(module)
    if not name:
        return wrapped
    set_module(model, name, wrapped)
    return model
