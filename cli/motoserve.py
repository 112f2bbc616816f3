"""The emulator's process: ``moto.server``, with one request handled at a time.

moto's server runs werkzeug with a thread per request, and moto's backends are not
thread-safe: terraform sends up to ten requests at once, and two of them changing
one security group's rules can lose one change. A test once failed in a way that
fits: the rule added right after the provider revoked a new group's default egress
rule was refused as a duplicate of it, with no error in between. A lock around the
WSGI call rules such races out. It costs little: moto holds the GIL while it works.

It also answers botocore's region lists from one session. moto builds each service's
backends for every region a botocore ``Session`` lists, some 80 questions when the
first requests arrive; a session loads the service's whole model to answer, and
moto asks EC2's partitions each on a new session: EC2's model (the largest) was
parsed four times, most of an emulator's start-up CPU, paid by every emulator.

It also answers an SDK's retry of a call it already carried out with the same answer.
The provider once retried an ``AuthorizeSecurityGroupEgress`` that moto had answered
200 (same ``amz-sdk-invocation-id``, ``attempt=2``, 120 ms later; why the SDK did not
take the first answer is not known); carried out again, the rule was refused as a
duplicate and the apply failed (the earlier failure above fits this too). A 40-service apply
failed so one time in three with moto's request routing made faster (it lists its own
package, some 200 entries, for every request: a fifth of an emulator's CPU under an
apply), and none in eight with the replay. The routing is left as moto has it.

And it loads no default AMIs (``MOTO_EC2_LOAD_DEFAULT_AMIS=false``): EC2's first
request otherwise makes a volume and a snapshot for each of moto's stock AMIs.
hclforge's stacks run on Fargate and never look one up.

Run as ``python -m hclforge.cli.motoserve -H HOST -p PORT`` (what :mod:`cli.emulator` starts).
"""

from __future__ import annotations

import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

NO_DEFAULT_AMIS = ("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
# How many successful answers are kept for the retries of an SDK (see serialized).
REPLAYS_KEPT = 1024
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def serialized(app: WsgiApp, keep: int = REPLAYS_KEPT) -> WsgiApp:
    """``app``, with each request (the call and its whole response body) under one lock, and an
    SDK's retry of a request already answered with success answered the same again.

    AWS SDKs send the same ``amz-sdk-invocation-id`` with every attempt of one call. A
    retry of a call moto already carried out would carry it out twice (a rule authorized
    twice is refused as a duplicate), so the success is replayed instead; an attempt that
    failed is tried again as before. The last ``keep`` successes are kept.
    """
    lock = threading.Lock()
    answered: OrderedDict[str, tuple[str, list[tuple[str, str]], bytes]] = OrderedDict()

    def handle(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        invocation = environ.get("HTTP_AMZ_SDK_INVOCATION_ID")
        with lock:
            if invocation and invocation in answered:
                status, headers, body = answered[invocation]
                start_response(status, headers)
                return [body]
            said: list[tuple[str, list[tuple[str, str]]]] = []

            def respond(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
                said.append((status, list(headers)))
                return start_response(status, headers, *exc_info)

            result = app(environ, respond)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            if invocation and said and said[-1][0].startswith("2"):
                answered[invocation] = (*said[-1], body)
                while len(answered) > keep:
                    answered.popitem(last=False)
            return [body]

    return handle


def remember_region_lists() -> None:
    """Make botocore's ``Session.get_available_regions`` answer from one session, each question once.

    The answer depends only on botocore's bundled data, the same for every session of
    this process; the first asking session answers all (its loader keeps each model it
    parsed), and each caller gets a list of its own.
    """
    from botocore.session import Session

    ask = Session.get_available_regions
    if getattr(ask, "remembers", False):
        return
    known: dict[tuple[str, str, bool], list[str]] = {}
    answering: list[Session] = []

    def get_available_regions(
        self: Session, service_name: str, partition_name: str = "aws", allow_non_regional: bool = False
    ) -> list[str]:
        key = (service_name, partition_name, allow_non_regional)
        if key not in known:
            if not answering:
                answering.append(self)
            known[key] = list(ask(answering[0], service_name, partition_name, allow_non_regional))
        return list(known[key])

    get_available_regions.remembers = True  # type: ignore[attr-defined]
    Session.get_available_regions = get_available_regions


def main(argv: list[str] | None = None) -> None:
    """moto's own ``main``: no default AMIs, region lists from one session, and the app wrapped by
    :func:`serialized`."""
    os.environ.setdefault(NO_DEFAULT_AMIS[0], NO_DEFAULT_AMIS[1])  # read when moto's EC2 backend starts
    remember_region_lists()
    import moto.server
    from werkzeug import serving

    run_simple = serving.run_simple

    def run_serialized(host: str, port: int, app: WsgiApp, **options: Any) -> None:
        run_simple(host, port, serialized(app), **options)

    moto.server.run_simple = run_serialized  # type: ignore[attr-defined,assignment]
    moto.server.main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
