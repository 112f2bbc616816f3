"""What an ECS service waits for, read from a plan's configuration (issue 19).

Terraform creates a resource as soon as everything it references exists. An ECS service
whose tasks start before their way out (NAT routes, route-table associations, VPC
endpoints and the rule that admits the tasks to them), before their own security-group
rules, or before the execution role's policies, gets tasks that stop with
ResourceInitializationError or CannotPullContainerError, and a circuit breaker that can
mark the first rollout FAILED. moto shows none of this: it starts no task.

The graph is built from ``terraform show -json``'s ``configuration``: resources' and
outputs' expression references and ``depends_on``, and module calls' inputs. Locals
are not in that document, so a path through a local is not seen (the templates pass
these values to the ecs module without one).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Node = tuple[str, str]  # (module path "module.network" or "", "aws_x.y" | "var.x" | "output.x")


def _references(expressions: Any) -> Iterator[str]:
    """Every reference in an expressions document, nested blocks included."""
    if isinstance(expressions, dict):
        refs = expressions.get("references")
        if isinstance(refs, list):
            yield from (r for r in refs if isinstance(r, str))
        for key, value in expressions.items():
            if key != "references":
                yield from _references(value)
    elif isinstance(expressions, list):
        for item in expressions:
            yield from _references(item)


def _resolve(path: str, ref: str) -> Node | None:
    """The node a reference made in module ``path`` points at (``None``: locals, each, count...)."""
    parts = ref.split(".")
    if parts[0] == "var" and len(parts) >= 2:
        return path, f"var.{parts[1]}"
    if parts[0] == "module" and len(parts) >= 3:
        return f"{path}.module.{parts[1]}".lstrip("."), f"output.{parts[2]}"
    if parts[0] == "data" and len(parts) >= 3:
        return path, ".".join(parts[:3]).split("[")[0]
    if len(parts) >= 2 and parts[0].startswith(("aws_", "terraform_")):
        return path, f"{parts[0]}.{parts[1].split('[')[0]}"
    return None


def dependency_graph(configuration: dict[str, Any]) -> dict[Node, set[Node]]:
    """Edges ``node -> what it needs``, for every resource, output and variable of every module."""
    graph: dict[Node, set[Node]] = {}

    def walk(path: str, module: dict[str, Any]) -> None:
        for res in module.get("resources", []):
            node = (path, res["address"].removeprefix(f"{path}.") if path else res["address"])
            refs = [*_references(res.get("expressions", {})), *res.get("depends_on", [])]
            graph.setdefault(node, set()).update(n for r in refs if (n := _resolve(path, r)) is not None)
        for name, out in module.get("outputs", {}).items():
            refs = [*_references(out.get("expression", {})), *out.get("depends_on", [])]
            graph.setdefault((path, f"output.{name}"), set()).update(
                n for r in refs if (n := _resolve(path, r)) is not None
            )
        for call, spec in module.get("module_calls", {}).items():
            child = f"{path}.module.{call}".lstrip(".")
            for var, expr in spec.get("expressions", {}).items():
                graph.setdefault((child, f"var.{var}"), set()).update(
                    n for r in _references(expr) if (n := _resolve(path, r)) is not None
                )
            walk(child, spec.get("module", {}))

    walk("", configuration["root_module"])
    return graph


def needs(graph: dict[Node, set[Node]], start: Node) -> set[Node]:
    """Everything ``start`` waits for, directly or through module inputs and outputs."""
    seen: set[Node] = set()
    todo = [start]
    while todo:
        for dep in graph.get(todo.pop(), ()):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def _is_prerequisite(node: Node, service: str) -> bool:
    """Whether ``node`` is something the tasks of ECS service resource ``service`` need at start."""
    module, address = node
    rtype, _, name = address.partition(".")
    if module == "module.network":
        return rtype in ("aws_route", "aws_route_table_association", "aws_vpc_endpoint", "aws_nat_gateway")
    if module == "module.iam":
        return (rtype, name.startswith("execution")) in {
            ("aws_iam_role_policy_attachment", True),
            ("aws_iam_role_policy", True),
            ("aws_iam_role_policies_exclusive", True),
        }
    if module == "module.ecs" and rtype == "aws_security_group_rule":
        return name.startswith(f"{service}_") or name == f"endpoints_from_{service}"
    return False


def missing_prerequisites(configuration: dict[str, Any]) -> dict[str, list[str]]:
    """For each ECS service, the start-up prerequisites of its environment it does not wait for."""
    return missing_in(dependency_graph(configuration))


def graph_from_dot(dot: str) -> dict[Node, set[Node]]:
    """The resource graph ``terraform graph`` prints (resources only, edges through modules kept)."""
    import re

    graph: dict[Node, set[Node]] = {}

    def node(address: str) -> Node:
        parts = address.split(".")
        cut = 0
        while len(parts) - cut > 2 and parts[cut] == "module":
            cut += 2
        return ".".join(parts[:cut]), ".".join(parts[cut:])

    for src, dst in re.findall(r'"([^"]+)" -> "([^"]+)"', dot):
        graph.setdefault(node(src), set()).add(node(dst))
        graph.setdefault(node(dst), set())
    return graph


def missing_in(graph: dict[Node, set[Node]]) -> dict[str, list[str]]:
    """For each ECS service of ``graph``, the start-up prerequisites it does not wait for."""
    services = [n for n in graph if n[1].startswith("aws_ecs_service.")]
    assert services, "no aws_ecs_service in the graph"
    missing = {}
    for svc in services:
        name = svc[1].split(".", 1)[1]
        required = {n for n in graph if _is_prerequisite(n, name)}
        absent = sorted(f"{m}.{a}".lstrip(".") for m, a in required - needs(graph, svc))
        if absent:
            missing[f"{svc[0]}.{svc[1]}".lstrip(".")] = absent
    return missing
