"""Shared bits of the day-two modules that read AWS: error wrapping and batching.

The day-two modules (:mod:`cli.rollout`, :mod:`cli.logs`, :mod:`cli.runtask`) take
their boto3 clients as arguments and never build a session themselves, so the
caller decides the endpoint (the emulator's, or the profile's in the real account).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from hclforge.errors import AwsError, UsageError, printable

T = TypeVar("T")


@contextlib.contextmanager
def aws_call(what: str, *, missing: str | None = None) -> Iterator[None]:
    """Turn botocore's errors inside the block into :class:`AwsError` naming ``what``.

    Args:
        what: the call, for the message (``"ecs describe_services"``).
        missing: when given, a ``ResourceNotFoundException`` becomes a
            :class:`UsageError` with this message (the thing is not applied yet,
            or the name is wrong: nothing a retry would fix).

    Raises:
        UsageError: the resource does not exist (with ``missing``).
        AwsError: a ``ClientError`` (denied, throttled, not found) or a
            ``BotoCoreError`` (endpoint unreachable, no credentials).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as err:
        if missing is not None and err.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise UsageError(missing) from None
        raise AwsError(f"{what} failed: {printable(str(err))}") from None
    except BotoCoreError as err:
        # botocore's messages name the operation and the code, never request bodies.
        raise AwsError(f"{what} failed: {printable(str(err))}") from None


def batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size`` (DescribeServices takes 10 names, DescribeTasks 100)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def cluster_exists(ecs: Any, cluster: str) -> bool:
    found = aws("ecs", "DescribeClusters", ecs.describe_clusters, clusters=[cluster]).get("clusters", [])
    return any(c.get("status") == "ACTIVE" for c in found)


def aws(service: str, operation: str, call: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return call(**kwargs)
    except Exception as err:
        raise AwsError(f"{service} {operation} failed: {err}") from None


def known_service(cfg: Any, service: str) -> str:
    """``service`` when the environment has it; UsageError naming the services otherwise."""
    if service not in cfg.services:
        raise UsageError(
            f"no service {printable(service)!r} in {cfg.environment} (services: {', '.join(cfg.services)})"
        )
    return service
