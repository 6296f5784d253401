"""Every public function and class documents its arguments' shapes with a runnable example."""

from __future__ import annotations

import importlib
import inspect

import pytest

MODULES = ["adastft", "adastft.bounded", "adastft.mel", "adastft.plot", "adastft.positions"]
MODULES += ["adastft.transforms", "adastft.windows", "adastft.layers", "adastft.losses"]
MODULES += ["adastft.optimize"]


def _public_objects():
    seen = set()
    for name in MODULES:
        module = importlib.import_module(name)
        for attr in module.__all__:
            obj = getattr(module, attr)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and id(obj) not in seen:
                seen.add(id(obj))
                yield f"{name}.{attr}", obj


@pytest.mark.parametrize(("name", "obj"), list(_public_objects()))
def test_public_object_has_docstring_with_example(name, obj):
    doc = inspect.getdoc(obj) or ""
    assert doc, f"{name} has no docstring"
    assert ">>>" in doc, f"{name}'s docstring has no example"
