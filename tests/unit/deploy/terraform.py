"""deploy/terraform rendered without a provider: the IAM grants a plan would make.

No Terraform provider can be downloaded where the project is built, so ``terraform plan``
cannot run. This reads the .tf files (python-hcl2) and evaluates the small part of the
language they use (variables and their defaults, locals, ``for_each``/``count``,
references, ``coalesce``/``merge``/``toset``/``values``, ternaries, templates) into the
grants every ``*_iam_member`` resource would make, and runs their ``precondition``s as a
plan would: a false one raises ``PlanFails``. An expression outside that subset fails
loudly (``UnsupportedExpression``) rather than being guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import hcl2

# What the predefined roles the files grant allow, of what the tests ask about.
PREDEFINED = {
    "roles/pubsub.subscriber": {"pubsub.subscriptions.consume", "pubsub.topics.attachSubscription"},
    "roles/pubsub.viewer": {"pubsub.subscriptions.get", "pubsub.subscriptions.list"},
    "roles/pubsub.publisher": {"pubsub.topics.publish"},
    "roles/pubsub.editor": {
        "pubsub.subscriptions.consume",
        "pubsub.subscriptions.delete",
        "pubsub.subscriptions.create",
        "pubsub.topics.publish",
    },
    "roles/monitoring.viewer": set(),
    "roles/cloudtrace.agent": set(),
    "roles/iam.workloadIdentityUser": set(),
}


class PlanFails(AssertionError):
    """A precondition is false: ``terraform plan`` would stop with its error message."""


class UnsupportedExpression(ValueError):
    pass


@dataclass(frozen=True)
class Grant:
    """One IAM binding: ``member`` has ``role`` on ``scope`` ("project", "topic" or
    "subscription") ``target`` (a project ID, a topic or subscription name)."""

    resource: str
    member: str
    role: str
    scope: str
    target: str


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


class Instance:
    """One resource (or data source) instance: its block's attributes, evaluated on
    demand with its ``each``, and the attributes the provider would compute."""

    def __init__(
        self, kind: str, block: dict[str, Any], each: Any, tf: Terraform, project: str
    ) -> None:
        self._kind, self._block, self._each, self._tf = kind, block, each, tf
        self._project = project

    def attribute(self, name: str) -> Any:
        return self._tf.evaluate(self._block[name], self._each)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._block:
            return self.attribute(name)
        project = self.attribute("project") if "project" in self._block else self._project
        computed: dict[str, Callable[[], Any]] = {
            "member": lambda: f"serviceAccount:{self.email}",
            "email": lambda: f"{self.attribute('account_id')}@{project}.iam.gserviceaccount.com",
            "number": lambda: f"number-of-{self.attribute('project_id')}",
        }
        if self._kind == "google_project_iam_custom_role":
            computed["name"] = lambda: f"projects/{project}/roles/{self.attribute('role_id')}"
        if self._kind == "google_pubsub_topic":
            computed["id"] = lambda: f"projects/{project}/topics/{self.attribute('name')}"
        if self._kind == "google_pubsub_subscription":
            computed["id"] = lambda: f"projects/{project}/subscriptions/{self.attribute('name')}"
        if self._kind == "google_service_account" and name == "name":
            return f"projects/{project}/serviceAccounts/{self.email}"
        if name not in computed:
            raise UnsupportedExpression(f"{self._kind}.{name}")
        return computed[name]()


class Namespace:
    def __init__(self, lookup: Callable[[str], Any]) -> None:
        self._lookup = lookup

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._lookup(name)


@dataclass(frozen=True)
class Each:
    key: Any
    value: Any


def _toset(items: Iterable[Any]) -> list[Any]:
    return sorted(set(items))


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "coalesce": lambda *values: next(v for v in values if v is not None),
    "merge": lambda *maps: {k: v for m in maps for k, v in m.items()},
    "toset": _toset,
    "values": lambda mapping: [mapping[k] for k in sorted(mapping)],
}


class Terraform:
    def __init__(self, folder: Path, variables: Mapping[str, Any]) -> None:
        self.blocks: dict[str, list[dict[str, Any]]] = {}
        for path in sorted(folder.glob("*.tf")):
            with path.open() as file:
                for kind, entries in hcl2.load(file).items():
                    self.blocks.setdefault(kind, []).extend(entries)
        declared = {
            _unquote(name): body
            for entry in self.blocks.get("variable", [])
            for name, body in entry.items()
        }
        unknown = set(variables) - set(declared)
        assert not unknown, f"no such variables: {unknown}"
        self.variables = {
            name: variables.get(name, self.evaluate(body.get("default"), None))
            for name, body in declared.items()
        }
        missing = [name for name, value in self.variables.items() if value is None and
                   "default" not in declared[name]]  # fmt: skip
        assert not missing, f"required variables not given: {missing}"
        self.locals = {
            name: expression
            for entry in self.blocks.get("locals", [])
            for name, expression in entry.items()
            if name != "__is_block__"
        }
        self._local_values: dict[str, Any] = {}
        self.project = str(self.variables["project_id"])

    def resources(self, kind: str = "resource") -> Iterator[tuple[str, str, dict[str, Any]]]:
        for entry in self.blocks.get(kind, []):
            for rtype, named in entry.items():
                for name, body in named.items():
                    if name != "__is_block__":
                        yield _unquote(rtype), _unquote(name), body

    def instances(self, rtype: str, name: str, kind: str = "resource") -> Any:
        """The resource's instance, or its instances by key (for_each, count)."""
        ((body),) = [b for t, n, b in self.resources(kind) if (t, n) == (rtype, name)]
        if "for_each" in body:
            keyed = self.evaluate(body["for_each"], None)
            pairs = keyed.items() if isinstance(keyed, dict) else ((k, k) for k in keyed)
            return {
                key: Instance(rtype, body, Each(key, value), self, self.project)
                for key, value in pairs
            }
        if "count" in body:
            count = self.evaluate(body["count"], None)
            return [Instance(rtype, body, Each(i, i), self, self.project) for i in range(count)]
        return Instance(rtype, body, None, self, self.project)

    def _instances_of(self, rtype: str, name: str) -> Any:
        return self.instances(rtype, name)

    def local(self, name: str) -> Any:
        if name not in self._local_values:
            self._local_values[name] = self.evaluate(self.locals[name], None)
        return self._local_values[name]

    def evaluate(self, value: Any, each: Each | None) -> Any:
        if isinstance(value, dict):
            return {
                _unquote(k): self.evaluate(v, each) for k, v in value.items() if k != "__is_block__"
            }
        if isinstance(value, list):
            return [self.evaluate(v, each) for v in value]
        if not isinstance(value, str):
            return value
        if value.startswith("${") and value.endswith("}") and value.count("${") == 1:
            return self.expression(value[2:-1], each)
        if value.startswith('"') and value.endswith('"'):
            return self.template(value[1:-1], each)
        return value

    def template(self, text: str, each: Each | None) -> str:
        return re.sub(r"\$\{([^}]*)\}", lambda m: str(self.expression(m[1], each)), text)

    def expression(self, text: str, each: Each | None) -> Any:
        python = _python(text)
        scope: dict[str, Any] = {
            **FUNCTIONS,
            "var": Namespace(lambda n: self.variables[n]),
            "local": Namespace(self.local),
            "each": each,
            "data": Namespace(lambda t: Namespace(lambda n: self.instances(t, n, "data"))),
            "__builtins__": {},
        }
        for rtype, _name, _body in self.resources():
            scope[rtype] = Namespace(partial(self._instances_of, rtype))
        try:
            return eval(python, scope)  # the project's own .tf files, translated above
        except (SyntaxError, NameError, KeyError) as exc:
            raise UnsupportedExpression(f"{text!r} (as {python!r}): {exc}") from None

    def grants(self) -> list[Grant]:
        """Every IAM binding the plan would make; ``PlanFails`` on a false precondition."""
        scopes = {
            "google_project_iam_member": ("project", "project"),
            "google_pubsub_topic_iam_member": ("topic", "topic"),
            "google_pubsub_subscription_iam_member": ("subscription", "subscription"),
        }
        found = []
        for rtype, name, body in self.resources():
            if rtype not in scopes:
                continue
            scope, attribute = scopes[rtype]
            instances = self.instances(rtype, name)
            if isinstance(instances, Instance):
                instances = {None: instances}
            elif isinstance(instances, list):
                instances = dict(enumerate(instances))
            for instance in instances.values():
                for lifecycle in body.get("lifecycle", []):
                    for check in lifecycle.get("precondition", []):
                        if not self.evaluate(check["condition"], instance._each):
                            raise PlanFails(self.evaluate(check["error_message"], instance._each))
                found.append(
                    Grant(
                        f"{rtype}.{name}",
                        instance.member,
                        instance.role,
                        scope,
                        str(instance.attribute(attribute)),
                    )
                )
        return found

    def permissions(self, role: str) -> set[str]:
        """What ``role`` allows: a predefined role's (of those in PREDEFINED), or one of
        the files' custom roles."""
        if role in PREDEFINED:
            return PREDEFINED[role]
        for rtype, name, _body in self.resources():
            if rtype != "google_project_iam_custom_role":
                continue
            instances = self.instances(rtype, name)
            if isinstance(instances, Instance):
                instances = {None: instances}
            elif isinstance(instances, list):
                instances = dict(enumerate(instances))
            for instance in instances.values():
                if instance.name == role:
                    return set(instance.permissions)
        raise UnsupportedExpression(f"unknown role {role}")


def _python(text: str) -> str:
    """An HCL expression of the subset the files use, as Python."""
    text = text.strip()
    depth, question, quoted = 0, -1, False
    for i, char in enumerate(text):  # a top-level ternary: cond ? a : b
        quoted ^= char == '"'
        if quoted:
            continue
        depth += char in "([{"
        depth -= char in ")]}"
        if char == "?" and depth == 0:
            question = i
        elif char == ":" and depth == 0 and question >= 0:
            condition, yes, no = text[:question], text[question + 1 : i], text[i + 1 :]
            return f"(({_python(yes)}) if ({_python(condition)}) else ({_python(no)}))"
    text = re.sub(r'"([^"]*)"', lambda m: repr(m[1]), text)  # strings, before the rest
    text = re.sub(r"(?<![=!<>])=(?!=)", ":", text)  # map literals: { k = v }
    text = text.replace("&&", " and ").replace("||", " or ")
    text = re.sub(r"!(?!=)", " not ", text)
    text = re.sub(r"\bnull\b", "None", text)
    text = re.sub(r"\btrue\b", "True", text)
    text = re.sub(r"\bfalse\b", "False", text)
    return text.replace("\n", " ")
