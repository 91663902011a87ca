"""Every public name of ``plasticity`` is documented in NumPy style.

For every name in ``plasticity.__all__`` and every public method and property of its
classes: a docstring with a summary line; a ``Parameters`` section naming every
parameter of ``inspect.signature`` (each with a type and a description); a ``Returns``
section where something is returned (for the native module, what its stub says); no
``<object …>`` sentinel in a signature; no reference to documents outside the
repository; and the docstring's examples run.
"""

from __future__ import annotations

import ast
import doctest
import inspect
import pathlib
import re
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

import pytest

import plasticity as pl

STUB = pathlib.Path(pl.__file__).with_name("_plasticity.pyi")

#: Parameters that a docstring does not describe.
IMPLICIT = {"self", "cls"}


def sections(doc: str) -> Dict[str, List[str]]:
    """The docstring's NumPy sections (``Parameters``, ``Returns``, …): title → the
    lines under its underline, up to the next section."""
    lines = inspect.cleandoc(doc).splitlines()
    found: Dict[str, List[str]] = {}
    current: Optional[str] = None
    skip = False
    for i, line in enumerate(lines):
        if skip:
            skip = False
            continue
        underline = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if (
            line.strip()
            and not line[0].isspace()
            and len(underline) >= 3
            and set(underline) == {"-"}
            and len(underline) == len(line.strip())
        ):
            current = line.strip()
            found[current] = []
            skip = True
            continue
        if current is not None:
            found[current].append(line)
    return found


def entries(lines: List[str]) -> Dict[str, Tuple[str, List[str]]]:
    """The entries of a section: ``name : type`` at the left margin followed by an
    indented description; name → (type, description lines). ``a, b : type`` documents
    both names."""
    found: Dict[str, Tuple[str, List[str]]] = {}
    names: List[str] = []
    for line in lines:
        if line.strip() and not line[0].isspace():
            head, _, kind = line.partition(" : ")
            names = [n.strip().lstrip("*") for n in head.split(",")]
            for name in names:
                found[name] = (kind.strip(), [])
        elif line.strip():
            for name in names:
                found[name][1].append(line.strip())
    return found


def stub_returns() -> Dict[str, str]:
    """The return annotation of every function and method of the native module's stub,
    by qualified name (``load``, ``NeuralDataset.save``)."""
    tree = ast.parse(STUB.read_text())
    found: Dict[str, str] = {}

    def visit(body: List[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef) and node.returns is not None:
                found[prefix + node.name] = ast.unparse(node.returns)
            elif isinstance(node, ast.ClassDef):
                visit(node.body, prefix + node.name + ".")

    visit(tree.body, "")
    return found


STUB_RETURNS = stub_returns()


def is_native(item: Any) -> bool:
    """Whether the function or method ``item`` comes from the native module."""
    return inspect.isbuiltin(item) or inspect.ismethoddescriptor(item)


def public_items() -> Iterator[Tuple[str, str, Any]]:
    """(qualified name, what it is, the object) for every public name and every public
    method and property of the public classes."""
    for name in pl.__all__:
        item = getattr(pl, name)
        if inspect.isclass(item):
            yield name, "class", item
            for attribute, raw in vars(item).items():
                if attribute.startswith("_"):
                    continue
                qualified = f"{name}.{attribute}"
                if isinstance(raw, property) or inspect.isdatadescriptor(raw):
                    yield qualified, "property", raw
                elif isinstance(raw, (staticmethod, classmethod)) or inspect.isroutine(raw):
                    yield qualified, "method", getattr(item, attribute)
        elif callable(item):
            yield name, "function", item


ITEMS = list(public_items())


def test_every_public_name_is_walked():
    names = {qualified for qualified, _, _ in ITEMS}
    for expected in ("fit", "fit_online", "FitResult.to_pandas", "FitResult.coefficients",
                     "Rule.taylor", "NeuralDataset.save", "NeuralDataset.inputs",
                     "FlyRecording.to_dataset", "OnlineResult.history_to_pandas", "load"):
        assert expected in names
    assert len(ITEMS) > 60


def signature_of(item: Any) -> Optional[inspect.Signature]:
    try:
        return inspect.signature(item)
    except (TypeError, ValueError):  # a native class without a constructor
        return None


def returns_something(qualified: str, item: Any, signature: inspect.Signature) -> bool:
    if is_native(item):
        # the stub says what a native function returns
        assert qualified in STUB_RETURNS, f"{qualified} is not in _plasticity.pyi"
        return STUB_RETURNS[qualified] != "None"
    annotation = signature.return_annotation
    return annotation not in (None, "None", type(None))


def documented_parameters(item: Any, signature: inspect.Signature) -> Set[str]:
    return {
        name
        for name, parameter in signature.parameters.items()
        if name not in IMPLICIT
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    }


def check_entries(qualified: str, section: str, found: Dict[str, Tuple[str, List[str]]],
                  required: Set[str]) -> None:
    missing = sorted(required - set(found))
    assert not missing, f"{qualified}: {section} does not describe {', '.join(missing)}"
    for name in required:
        kind, description = found[name]
        assert kind, f"{qualified}: {section} gives no type for {name} (`{name} : type`)"
        assert description, f"{qualified}: {section} does not describe {name}"


@pytest.mark.parametrize("qualified, what, item", ITEMS, ids=[q for q, _, _ in ITEMS])
def test_documented_in_numpy_style(qualified: str, what: str, item: Any) -> None:
    doc = item.__doc__ if not isinstance(item, property) else item.fget.__doc__
    assert doc and doc.strip(), f"{qualified} has no docstring"
    summary = inspect.cleandoc(doc).splitlines()[0]
    assert summary.strip(), f"{qualified}: the docstring does not start with a summary line"
    assert "SPEC" not in doc and "../" not in doc, (
        f"{qualified}: the docstring cites a document outside the repository"
    )
    if what == "property":
        return
    signature = signature_of(item)
    if signature is None:
        assert what == "class", f"{qualified} has no signature"
        return
    assert "<object" not in str(signature), f"{qualified}{signature}"
    found = sections(doc)
    required = documented_parameters(item, signature)
    if what == "class":
        # a class documents its constructor's parameters (a result class: its attributes)
        described = {**entries(found.get("Attributes", [])), **entries(found.get("Parameters", []))}
        check_entries(qualified, "Parameters/Attributes", described, required)
        return
    if required:
        assert "Parameters" in found, f"{qualified}: no Parameters section"
        check_entries(qualified, "Parameters", entries(found["Parameters"]), required)
    unknown = set(entries(found.get("Parameters", []))) - required
    assert not unknown, f"{qualified}: Parameters describes {', '.join(sorted(unknown))}, not in {signature}"
    if returns_something(qualified, item, signature):
        assert "Returns" in found and entries(found["Returns"]), (
            f"{qualified}: no Returns section"
        )


EXAMPLES = [
    (qualified, item) for qualified, what, item in ITEMS
    if what != "property" and ">>>" in (item.__doc__ or "")
]


@pytest.mark.parametrize("qualified, item", EXAMPLES, ids=[q for q, _ in EXAMPLES])
def test_docstring_examples_run(qualified: str, item: Any) -> None:
    test = doctest.DocTestParser().get_doctest(item.__doc__, {}, qualified, None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    output: List[str] = []
    runner.run(test, out=output.append)
    assert runner.failures == 0, "".join(output)


def test_a_missing_parameter_is_caught() -> None:
    """The checker itself: dropping one parameter's entry, or only its description,
    fails."""
    doc = pl.simulate_oja.__doc__ or ""
    signature = inspect.signature(pl.simulate_oja)
    required = documented_parameters(pl.simulate_oja, signature)
    check_entries("simulate_oja", "Parameters", entries(sections(doc)["Parameters"]), required)
    without = re.sub(r"\n    noise_std : float, default 0\.0\n        [^\n]*\n", "\n", doc)
    assert without != doc
    with pytest.raises(AssertionError, match="does not describe noise_std"):
        check_entries("simulate_oja", "Parameters", entries(sections(without)["Parameters"]),
                      required)
    bare = re.sub(r"(\n    noise_std : float, default 0\.0\n)        [^\n]*\n", r"\1", doc)
    assert bare != doc
    with pytest.raises(AssertionError, match="does not describe noise_std"):
        check_entries("simulate_oja", "Parameters", entries(sections(bare)["Parameters"]),
                      required)
