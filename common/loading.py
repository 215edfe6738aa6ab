"""Your code, named by an import path in a setting: ``package.module:function``.

Loaded once, at start-up, and checked as far as Python allows before the first message
arrives: the module imports, the name is there, it is a plain callable (not a coroutine
function, which would return an un-awaited coroutine), and it accepts the arguments its
seam passes (``common.seams``). The annotations are not checked at run time; ``mypy``
checks them against the seam's protocol in your own tests.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Mapping

from common.config import ConfigError, read_str
from common.logs import error_text

# module:attribute, each a dotted run of Python identifiers (attribute may be Class.method).
_PATH = re.compile(r"(?P<module>\w+(?:\.\w+)*):(?P<attribute>\w+(?:\.\w+)*)")


class LoadError(ValueError):
    """The path names nothing usable; the message says why, without the setting's name."""


def load_callable(path: str, arguments: int) -> Callable[..., object]:
    """The callable at ``path``, checked to accept ``arguments`` positional arguments.

    Raises ``LoadError``. Importing runs the module's top-level code, which may raise
    (a missing setting of its own, say): that error's class and text end the message.
    """
    match = _PATH.fullmatch(path)
    if match is None:
        raise LoadError("must be an import path, package.module:function")
    module_name, attribute = match["module"], match["attribute"]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name or module_name.startswith(f"{exc.name}."):
            raise LoadError(
                f"no module named {exc.name!r} (is your package in the image, under "
                "the working directory or installed?)"
            ) from None
        raise LoadError(f"importing {module_name} failed: {_describe(exc)}") from None
    except Exception as exc:  # whatever the module's top-level code raised
        raise LoadError(f"importing {module_name} failed: {_describe(exc)}") from None
    found: object = module
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise LoadError(f"{module_name} has no attribute {attribute!r}") from None
    if not callable(found):
        raise LoadError(f"is a {type(found).__name__}, not a function")
    if inspect.iscoroutinefunction(found) or inspect.iscoroutinefunction(
        getattr(found, "__call__", None)  # noqa: B004 - an instance's async __call__
    ):
        raise LoadError("is a coroutine function (async def); the seams call plain functions")
    _check_arguments(found, arguments)
    return found


def _check_arguments(function: Callable[..., object], arguments: int) -> None:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # some built-ins have no signature: nothing to check
        return
    try:
        signature.bind(*range(arguments))
    except TypeError:
        plural = "" if arguments == 1 else "s"
        raise LoadError(
            f"must accept {arguments} positional argument{plural}, but its signature is {signature}"
        ) from None


def _describe(exc: BaseException) -> str:
    return error_text(exc, plain=(ConfigError,))


def read_callable(
    env: Mapping[str, str], name: str, default: str, arguments: int
) -> tuple[str, Callable[..., object]]:
    """The import path in setting ``name`` (``default`` when unset) and what it names;
    raises ``ConfigError`` naming the setting and its value."""
    path = read_str(env, name, default)
    try:
        return path, load_callable(path, arguments)
    except LoadError as exc:
        raise ConfigError(f"{name}={path!r:.200}: {exc}") from None
