"""pytest: leave the integration modules out of doctest collection when their extra is absent."""

import importlib


def _missing(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return True
    return False


collect_ignore = [name for name, needs in (("lightning.py", "lightning.pytorch"),
                                           ("huggingface.py", "transformers"))
                  if _missing(needs)]
