"""Loading the user's code by import path: good paths, bad paths, wrong signatures.

The modules loaded are real files written to a temporary folder on ``sys.path``, so
each case goes through the real import machinery.
"""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from common.config import ConfigError
from common.loading import LoadError, load_callable, read_callable

Module = Callable[[str], str]


@pytest.fixture
def module(tmp_path: Path) -> Iterator[Module]:
    """Writes a module with the given source; returns its (unique) name."""
    sys.path.insert(0, str(tmp_path))
    names: list[str] = []

    def write(source: str) -> str:
        name = f"user_code_{uuid.uuid4().hex[:8]}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        names.append(name)
        return name

    yield write
    sys.path.remove(str(tmp_path))
    for name in names:
        sys.modules.pop(name, None)


def test_a_function_by_its_path(module: Module) -> None:
    name = module("def handle(message):\n    return message.upper()\n")
    handle = load_callable(f"{name}:handle", arguments=1)
    assert handle("hi") == "HI"


def test_a_method_of_an_object_and_a_callable_instance(module: Module) -> None:
    name = module(
        """
        class Handler:
            def __init__(self):
                self.seen = []

            def __call__(self, message):
                self.seen.append(message)

            def source(self, rng, sequence, publisher_id):
                return sequence

        HANDLER = Handler()
        """
    )
    assert load_callable(f"{name}:HANDLER", arguments=1)("m") is None
    assert load_callable(f"{name}:HANDLER.source", arguments=3)(None, 7, "p") == 7


def test_a_standard_library_function_and_defaults_and_star_args_fit() -> None:
    assert load_callable("builtins:repr", arguments=1)(1) == "1"
    assert load_callable("os.path:join", arguments=3)("a", "b", "c") == "a/b/c"


@pytest.mark.parametrize(
    "path",
    ["handler", "module.handler", "module:", ":handler", "a b:c", "module:handler()", ""],
)
def test_a_malformed_path_is_refused(path: str) -> None:
    with pytest.raises(LoadError, match=r"^must be an import path, package\.module:function$"):
        load_callable(path, arguments=1)


def test_a_module_that_is_not_there() -> None:
    with pytest.raises(LoadError, match=r"^no module named 'no_such_package_here' \(is your"):
        load_callable("no_such_package_here.handlers:handle", arguments=1)
    with pytest.raises(LoadError, match=r"^no module named 'common\.no_such_module'"):
        load_callable("common.no_such_module:handle", arguments=1)


def test_a_module_whose_own_import_fails_says_what_it_raised(module: Module) -> None:
    missing = module("import no_such_dependency_here\n\ndef handle(message): ...\n")
    with pytest.raises(
        LoadError,
        match=rf"^importing {missing} failed: ModuleNotFoundError: No module named "
        r"'no_such_dependency_here'$",
    ):
        load_callable(f"{missing}:handle", arguments=1)
    broken = module("def handle(message):\n    return (\n")
    with pytest.raises(LoadError, match=rf"^importing {broken} failed: SyntaxError: "):
        load_callable(f"{broken}:handle", arguments=1)
    # A setting of the user's own code, checked at import: its message comes through whole.
    strict = module(
        """
        from common.config import ConfigError
        raise ConfigError("WEBHOOK_URL must be set")
        """
    )
    with pytest.raises(LoadError, match=rf"^importing {strict} failed: WEBHOOK_URL must be set$"):
        load_callable(f"{strict}:call", arguments=1)


def test_a_name_the_module_does_not_have(module: Module) -> None:
    name = module("def handle(message): ...\n")
    with pytest.raises(LoadError, match=rf"^{name} has no attribute 'hnadle'$"):
        load_callable(f"{name}:hnadle", arguments=1)


def test_something_that_is_not_callable(module: Module) -> None:
    name = module("handle = 'not a function'\n")
    with pytest.raises(LoadError, match=r"^is a str, not a function$"):
        load_callable(f"{name}:handle", arguments=1)


@pytest.mark.parametrize(
    ("source", "signature"),
    [
        ("def handle(): ...", r"\(\)"),
        ("def handle(message, extra): ...", r"\(message, extra\)"),
        ("def handle(*, message): ...", r"\(\*, message\)"),
    ],
)
def test_a_wrong_signature_is_refused(module: Module, source: str, signature: str) -> None:
    name = module(source + "\n")
    with pytest.raises(
        LoadError, match=rf"^must accept 1 positional argument, but its signature is {signature}$"
    ):
        load_callable(f"{name}:handle", arguments=1)


def test_a_source_needs_three_arguments(module: Module) -> None:
    name = module("def source(rng, sequence): ...\n")
    with pytest.raises(LoadError, match=r"^must accept 3 positional arguments, but its signature"):
        load_callable(f"{name}:source", arguments=3)


def test_a_coroutine_function_is_refused(module: Module) -> None:
    name = module(
        """
        async def handle(message): ...

        class Async:
            async def __call__(self, message): ...

        INSTANCE = Async()
        """
    )
    for attribute in ("handle", "INSTANCE"):
        with pytest.raises(LoadError, match=r"^is a coroutine function \(async def\)"):
            load_callable(f"{name}:{attribute}", arguments=1)


def test_the_setting_names_itself_and_its_value_in_the_error() -> None:
    with pytest.raises(ConfigError, match=r"^HANDLER='nowhere:handle': no module named 'nowhere'"):
        read_callable({"HANDLER": "nowhere:handle"}, "HANDLER", "builtins:repr", arguments=1)


def test_the_default_applies_when_the_setting_is_unset_or_blank() -> None:
    for env in ({}, {"HANDLER": "  "}):
        path, function = read_callable(env, "HANDLER", "builtins:repr", arguments=1)
        assert (path, function) == ("builtins:repr", repr)
