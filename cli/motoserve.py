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
Only calls that change something are replayed (a read carried out twice does no harm),
only to the same request (the id alone once answered a PUT of one bucket with the reply
to a PUT of another), and the replies kept hold a bounded number of bytes (1,024 replies
of any size once held 19 MB per GET of a 20 MB object).

And it loads no default AMIs (``MOTO_EC2_LOAD_DEFAULT_AMIS=false``): EC2's first
request otherwise makes a volume and a snapshot for each of moto's stock AMIs.
hclforge's stacks run on Fargate and never look one up.

Run as ``python -m hclforge.cli.motoserve -H HOST -p PORT`` (what :mod:`cli.emulator` starts).
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

NO_DEFAULT_AMIS = ("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
# The methods of calls that change something: only their replies are replayed (see serialized).
CHANGING_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})
# What the replies kept for an SDK's retries may hold together, and the largest reply kept:
# a retry comes within seconds, and the replies of calls that change something are small.
REPLAY_BYTES = 16 * 1024 * 1024
REPLY_BYTES = 1024 * 1024
# Headers that differ between two attempts of one call: the signature, its time and the
# attempt count (``amz-sdk-request`` is not an ``x-amz-`` header); every other ``x-amz-``
# header is part of the request (S3's copy source, a JSON protocol's operation).
PER_ATTEMPT = frozenset({"HTTP_X_AMZ_DATE", "HTTP_X_AMZ_SECURITY_TOKEN"})
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Reply = tuple[str, list[tuple[str, str]], bytes]


class Replays:
    """Successful replies to calls that change something, kept for an SDK's retries of them.

    Bounded in bytes (each reply's status, headers and body, and its key): the oldest go
    first, and a reply larger than ``largest`` is never kept.

    Args:
        limit: the most bytes all kept replies may hold.
        largest: the most bytes one kept reply may hold.
    """

    def __init__(self, limit: int = REPLAY_BYTES, largest: int = REPLY_BYTES) -> None:
        self.limit = limit
        self.largest = min(largest, limit)
        self.held = 0
        self._replies: OrderedDict[bytes, tuple[Reply, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._replies)

    def get(self, key: bytes) -> Reply | None:
        """The reply kept for ``key``, if any."""
        kept = self._replies.get(key)
        return kept[0] if kept else None

    def keep(self, key: bytes, reply: Reply) -> None:
        """Keep ``reply`` for ``key`` unless it is too large; forget the oldest beyond the limit."""
        status, headers, body = reply
        size = len(key) + len(status) + sum(len(n) + len(v) for n, v in headers) + len(body)
        if size > self.largest:
            return
        old = self._replies.pop(key, None)
        if old:
            self.held -= old[1]
        self._replies[key] = (reply, size)
        self.held += size
        while self.held > self.limit:
            _, (_, gone) = self._replies.popitem(last=False)
            self.held -= gone


def request_key(environ: dict[str, Any]) -> bytes | None:
    """What identifies one call of an SDK, all its attempts alike; None when it is never replayed.

    A call that changes something, with an ``amz-sdk-invocation-id``: the id, method, host,
    path, query, content type, the ``x-amz-`` headers but those of one attempt, and the body,
    which is read here (and put back as ``wsgi.input``, as werkzeug would read it).
    """
    invocation = environ.get("HTTP_AMZ_SDK_INVOCATION_ID")
    if not invocation or environ.get("REQUEST_METHOD") not in CHANGING_METHODS:
        return None
    stream = environ.get("wsgi.input")
    if environ.get("wsgi.input_terminated"):  # chunked: werkzeug reads to the end
        body = stream.read() if stream is not None else b""
    else:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None  # moto answers it as it would; never replayed
        body = stream.read(length) if stream is not None and length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    digest = hashlib.sha256()
    parts = [
        invocation,
        environ["REQUEST_METHOD"],
        environ.get("HTTP_HOST", ""),
        environ.get("PATH_INFO", ""),
        environ.get("QUERY_STRING", ""),
        environ.get("CONTENT_TYPE", ""),
    ]
    parts += sorted(
        f"{name}={value}"
        for name, value in environ.items()
        if name.startswith("HTTP_X_AMZ_") and name not in PER_ATTEMPT
    )
    for part in parts:  # each part's length first: no two lists of parts run together alike
        data = str(part).encode("utf-8", "surrogateescape")
        digest.update(len(data).to_bytes(8, "big") + data)
    digest.update(hashlib.sha256(body).digest())
    return digest.digest()


def serialized(app: WsgiApp, replays: Replays | None = None) -> WsgiApp:
    """``app``, with each request (the call and its whole response body) under one lock, and an
    SDK's retry of a call already answered with success answered the same again.

    AWS SDKs send the same ``amz-sdk-invocation-id`` with every attempt of one call. A
    retry of a call moto already carried out would carry it out twice (a rule authorized
    twice is refused as a duplicate), so the success is replayed instead; an attempt that
    failed is tried again as before. Only calls that change something are replayed, and
    only to the same request (:func:`request_key`); ``replays`` keeps the replies.
    """
    lock = threading.Lock()
    kept = replays if replays is not None else Replays()

    def handle(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        key = request_key(environ)  # reads the body, outside the lock
        # moto keeps each request's environ (and so its wsgi.input): the copy of the body read
        # for the key is let go once the app is done with it, or a PUT of 1 MB held 2 MB.
        read = environ["wsgi.input"] if key else None
        with lock:
            reply = kept.get(key) if key else None
            if reply is not None:
                status, headers, body = reply
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
                if read is not None:
                    read.close()
            if key and said and said[-1][0].startswith("2"):
                kept.keep(key, (*said[-1], body))
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
