"""Names a package imports from its modules on first use (PEP 562), as transformers' lazy module does."""

import importlib
import sys


def lazy_names(package: str, names: dict[str, str]):
    """The `__getattr__` and `__dir__` of `package`, where `names` maps each public name to the module (relative to
    `package`) that defines it. A name, once imported, is kept in the package, so later lookups are plain."""

    def __getattr__(name: str):
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{names[name]}", package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__
