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

It leaves moto's routing as it is, although moto lists its package directory (some
200 entries, each tested for a directory) for every request, a fifth of an
emulator's CPU under an apply. Listing it once made a 40-service apply fail one time
in two with ``InvalidPermission.Duplicate`` on a task security group's egress rule
(0 in 5 without): a race that a slower moto hides, in moto or in the provider, and
the lock does not rule out. It stays hidden until it is understood.

And it loads no default AMIs (``MOTO_EC2_LOAD_DEFAULT_AMIS=false``): EC2's first
request otherwise makes a volume and a snapshot for each of moto's stock AMIs.
hclforge's stacks run on Fargate and never look one up.

Run as ``python -m hclforge.cli.motoserve -H HOST -p PORT`` (what :mod:`cli.emulator` starts).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

NO_DEFAULT_AMIS = ("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def serialized(app: WsgiApp) -> WsgiApp:
    """``app``, with each request (the call and its whole response body) under one lock."""
    lock = threading.Lock()

    def handle(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with lock:
            result = app(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()

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
