"""The emulator: stop signals only the process hclforge started; its clients never see the user's AWS setup."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hclforge.cli import emulator
from hclforge.cli.main import main
from tests.conftest import MINIMAL_ENV

HCLFORGE = str(Path(sys.executable).parent / "hclforge")
# What a user's shell may carry that must never reach the emulator or terraform-for-the-emulator.
STRAY = {
    "AWS_PROFILE": "some-missing-profile",
    "AWS_DEFAULT_PROFILE": "some-missing-profile",
    "AWS_SESSION_TOKEN": "real-looking-token",
    "AWS_ACCESS_KEY_ID": "AKIAREALLOOKINGKEY00",
    "AWS_SECRET_ACCESS_KEY": "real-looking-secret",
    "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:9",
    "AWS_ENDPOINT_URL_EC2": "http://127.0.0.1:9",
    "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9",
    "AWS_CA_BUNDLE": "/nonexistent/ca.pem",
    "AWS_ROLE_ARN": "arn:aws:iam::111111111111:role/x",
    "AWS_WEB_IDENTITY_TOKEN_FILE": "/nonexistent/token",
    "AWS_CONFIG_FILE": "/nonexistent/config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9",
}


def _stop(root: Path, capsys) -> tuple[bool, str]:
    code = main(["--no-color", "--root", str(root), "emulator", "stop"])
    out, err = capsys.readouterr()
    assert code == 0
    return "emulator stopped" in out, out + err


def test_stop_leaves_a_process_it_did_not_start_alone(tmp_path: Path, capsys) -> None:
    sleeper = subprocess.Popen(["sleep", "1000"])
    try:
        state = tmp_path / ".hclforge"
        state.mkdir()
        (state / "emulator.json").write_text(json.dumps({"pid": sleeper.pid, "port": 9}))
        stopped, text = _stop(tmp_path, capsys)
        assert not stopped
        assert f"named pid {sleeper.pid}, which is not the emulator hclforge started" in text
        assert "signalled nothing" in text
        assert not (state / "emulator.json").exists()
        time.sleep(0.2)
        assert sleeper.poll() is None, "the sleep was signalled"
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.parametrize("pid", [-1, 0, 1])
def test_stop_never_signals_process_groups_or_init(tmp_path: Path, capsys, monkeypatch, pid: int) -> None:
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(emulator.os, "kill", lambda p, s: calls.append((p, s)))
    state = tmp_path / ".hclforge"
    state.mkdir()
    record = {"pid": pid, "port": 9, "start_time": 1, "token": "x", "ready": True}
    (state / "emulator.json").write_text(json.dumps(record))
    stopped, _ = _stop(tmp_path, capsys)
    assert not stopped and calls == []
    assert not (state / "emulator.json").exists()
    with pytest.raises(emulator.EmulatorError):
        emulator.stop_pid(pid)
    assert calls == []


def test_environ_drops_the_users_aws_setup_and_proxies_for_localhost() -> None:
    env = emulator.environ("http://127.0.0.1:4566", "eu-west-1", {**STRAY, "PATH": "/bin", "NO_PROXY": "corp"})
    for name in STRAY:
        if name.startswith("AWS_") and name not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            assert env.get(name) in (None, os.devnull), name
    assert not [k for k in env if k.startswith("AWS_ENDPOINT_URL_")]
    assert env["AWS_CONFIG_FILE"] == env["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == ("test", "test")
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    assert env["MOTO_IAM_LOAD_MANAGED_POLICIES"] == "true"
    assert env["HTTP_PROXY"] == "http://127.0.0.1:9"  # kept for the registry...
    assert env["NO_PROXY"] == "corp,127.0.0.1,localhost"  # ...never for the emulator
    assert env["PATH"] == "/bin"


@pytest.mark.emulator
def test_a_second_start_waits_for_a_slow_first_and_moto_gets_a_scrubbed_environment(
    tmp_path: Path, monkeypatch
) -> None:
    for name, value in STRAY.items():
        monkeypatch.setenv(name, value)
    state = tmp_path / ".hclforge"
    first = emulator.start(state, 0)
    try:
        environ = dict(
            item.split("=", 1) for item in Path(f"/proc/{first.pid}/environ").read_text().split("\0") if "=" in item
        )
        assert "AWS_PROFILE" not in environ and "AWS_ENDPOINT_URL_STS" not in environ
        assert environ["AWS_CONFIG_FILE"] == os.devnull
        # The first server is busy: it does not answer for a while.
        answers = iter([False] * 5)
        real = emulator.healthy
        monkeypatch.setattr(emulator, "healthy", lambda port, timeout=2.0: next(answers, True) and real(port))
        second = emulator.start(state, 0)
        assert second.pid == first.pid, "a second emulator was started, orphaning the first"
        # And the first start is the one that is stopped.
        monkeypatch.setattr(emulator, "healthy", real)
        assert emulator.status(state) == first
    finally:
        emulator.stop(state)
    assert not emulator.alive(first.pid) or emulator.process_start_time(first.pid) is None


@pytest.fixture
def small(project) -> Iterator[Path]:
    env = json.loads(json.dumps(MINIMAL_ENV))
    env["aws"]["emulator"] = True
    env["network"] = {"create": {"cidr": "10.9.0.0/16", "private_subnets": 1}}
    root = project({"envs/small.yaml": env})
    yield root
    emulator.stop(root / ".hclforge")


@pytest.mark.terraform
@pytest.mark.emulator
def test_plan_on_the_emulator_ignores_the_users_aws_setup(small: Path) -> None:
    env = {**os.environ, **STRAY}
    proc = subprocess.run(
        [HCLFORGE, "--no-color", "--root", str(small), "plan", "small"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Plan for small:" in proc.stdout
    # Its files are private to the user.
    assert (small / ".hclforge").stat().st_mode & 0o777 == 0o700
    files = small / ".hclforge/envs/small"
    for name in ("plan.tfplan", "plan.meta.json"):
        assert (files / name).stat().st_mode & 0o777 == 0o600, name
    assert (small / ".hclforge/emulator.log").stat().st_mode & 0o777 == 0o600
    assert not (files / "plan.json").exists()  # show -json runs only for --json-out
    # Nothing under .hclforge/ is readable by others: directories 0700, files 0600 (or 0700).
    loose = [
        f"{oct(p.lstat().st_mode & 0o777)} {p}"
        for p in (small / ".hclforge").rglob("*")
        if not p.is_symlink() and p.lstat().st_mode & 0o077
    ]
    assert loose == []


def test_the_emulator_handles_one_request_at_a_time() -> None:
    """moto's backends are not thread-safe: cli/motoserve.py puts each request under one lock."""
    import threading

    from hclforge.cli.motoserve import serialized

    inside, most = 0, 0
    guard = threading.Lock()

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        nonlocal inside, most
        with guard:
            inside += 1
            most = max(most, inside)
        time.sleep(0.01)
        start_response("200 OK", [])

        def body() -> Any:
            nonlocal inside
            yield b"a"
            time.sleep(0.01)  # the body is produced under the lock too
            yield b"b"
            with guard:
                inside -= 1

        return body()

    handle = serialized(app)
    bodies: list[bytes] = []
    threads = [threading.Thread(target=lambda: bodies.append(b"".join(handle({}, lambda *a: None)))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bodies == [b"ab"] * 8
    assert most == 1
    # Without the lock the same app overlaps (the test can fail).
    inside, most = 0, 0
    threads = [threading.Thread(target=lambda: b"".join(app({}, lambda *a: None))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most > 1


@pytest.mark.parametrize(("reply", "up"), [(b"HTTP/1.1 200 OK\r\n\r\n<p>", True), (b"HTTP/1.1 503 NO\r\n\r\n", False)])
def test_healthy_reads_the_status_line_past_any_proxy(reply: bytes, up: bool, monkeypatch) -> None:
    import socket
    import threading

    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # a proxy of the user's shell is never used
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    asked: list[bytes] = []

    def answer() -> None:
        conn, _ = server.accept()
        with conn:
            asked.append(conn.recv(1024))
            for byte in reply:  # one byte at a time: the status line may come in pieces
                conn.sendall(bytes([byte]))

    thread = threading.Thread(target=answer)
    thread.start()
    try:
        assert emulator.healthy(port) is up
    finally:
        thread.join(5)
        server.close()
    assert asked[0].startswith(b"GET /moto-api/ HTTP/1.0\r\n")
    assert emulator.healthy(port, timeout=0.3) is False  # nothing listens any more


def test_the_emulator_answers_region_lists_from_one_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """cli/motoserve.py: moto asks a new botocore session per EC2 partition; one session answers all.

    Each new session parses EC2's whole service model to answer. The answers stay the same.
    """
    import botocore.loaders
    from botocore.session import Session

    from hclforge.cli.motoserve import remember_region_lists

    partitions = ("aws", "aws-us-gov", "aws-cn")
    expected = {p: Session().get_available_regions("ec2", p) for p in partitions}
    # Restored after the test: the patch is process-wide.
    monkeypatch.setattr(Session, "get_available_regions", Session.get_available_regions)
    parsed: list[str] = []
    load_file = botocore.loaders.JSONFileLoader.load_file

    def counting(self: Any, path: str, *args: Any, **kwargs: Any) -> Any:
        parsed.append(path)
        return load_file(self, path, *args, **kwargs)

    monkeypatch.setattr(botocore.loaders.JSONFileLoader, "load_file", counting)
    remember_region_lists()
    got = {p: Session().get_available_regions("ec2", p) for p in partitions}
    assert got == expected and "ap-northeast-1" in got["aws"]
    assert len([p for p in parsed if p.endswith("ec2/2016-11-15/service-2")]) == 1  # 3 without the patch
    got["aws"].append("nowhere-1")  # each caller has a list of its own
    assert "nowhere-1" not in Session().get_available_regions("ec2", "aws")


def test_the_emulator_loads_no_stock_amis(moto: emulator.Emulator) -> None:
    """cli/motoserve.py: no default AMIs (EC2's first request made a volume and a snapshot for each)."""
    ec2 = moto.client("ec2", "ap-northeast-1")
    assert ec2.describe_images(Owners=["amazon"])["Images"] == []
    assert ec2.describe_availability_zones()["AvailabilityZones"]  # EC2 itself still answers


def test_an_sdk_retry_of_an_answered_call_gets_the_same_answer() -> None:
    """cli/motoserve.py: the provider retried an AuthorizeSecurityGroupEgress that moto had already
    answered 200 (same amz-sdk-invocation-id, attempt=2); carried out again, the rule was refused
    as a duplicate and a 40-service apply failed. A success is now replayed; a failure is not.
    """
    from werkzeug.test import EnvironBuilder

    from hclforge.cli.motoserve import Replays, serialized

    rules: list[bytes] = []
    calls: list[bytes] = []

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        rule = environ["wsgi.input"].read()
        calls.append(rule)
        if rule in rules:
            start_response("400 Bad Request", [("Content-Type", "text/xml")])
            return [b"InvalidPermission.Duplicate"]
        if rule == b"flaky" and calls.count(rule) == 1:
            start_response("503 Service Unavailable", [])
            return [b"try again"]
        rules.append(rule)
        start_response("200 OK", [("Content-Type", "text/xml")])
        return [b"<return>true</return>"]

    replays = Replays()
    handle = serialized(app, replays)

    def call(rule: bytes, invocation: str | None, attempt: int = 1) -> tuple[str, bytes]:
        said: list[str] = []
        # What differs between two attempts of one call: the signature, its time, the attempt.
        headers = {"X-Amz-Date": f"20261127T19142{attempt}Z", "Authorization": f"AWS4 sig{attempt}"}
        headers["amz-sdk-request"] = f"attempt={attempt}; max=25"
        if invocation:
            headers["amz-sdk-invocation-id"] = invocation
        environ = EnvironBuilder(method="POST", path="/", data=rule, headers=headers).get_environ()
        body = b"".join(handle(environ, lambda status, headers, *exc: said.append(status)))
        return said[0], body

    assert call(b"egress", "inv-1") == ("200 OK", b"<return>true</return>")
    assert call(b"egress", "inv-1", 2) == ("200 OK", b"<return>true</return>")  # the retry: replayed
    assert calls == [b"egress"]  # moto carried it out once
    assert call(b"egress", "inv-2")[0] == "400 Bad Request"  # another call: carried out, refused
    assert call(b"egress", None)[0] == "400 Bad Request"  # no invocation id: never replayed
    # A failed attempt is tried again, not replayed.
    assert call(b"flaky", "inv-3")[0] == "503 Service Unavailable"
    assert call(b"flaky", "inv-3", 2)[0] == "200 OK"
    # The oldest replies go first once the kept replies would hold more than the limit.
    replays.limit = replays.held  # inv-1 and inv-3
    call(b"a", "inv-4")
    assert len(replays) == 2 and replays.held <= replays.limit
    assert call(b"egress", "inv-1", 3)[0] == "400 Bad Request"  # inv-1 was forgotten
    assert call(b"flaky", "inv-3", 3)[0] == "200 OK"  # inv-3 was not


def _pinned(client: Any, invocation: str) -> Any:
    """``client``, with every attempt of every call carrying one ``amz-sdk-invocation-id``."""

    def pin(request: Any, **_: Any) -> None:
        request.headers["amz-sdk-invocation-id"] = invocation

    client.meta.events.register("before-send", pin)
    return client


def test_a_reused_invocation_id_never_answers_another_request(moto: emulator.Emulator) -> None:
    """cli/motoserve.py: the replay was keyed on ``amz-sdk-invocation-id`` alone. A PUT of bucket b
    with the id of an earlier PUT of bucket a got a's 200 (b was never made), and a GET with it got
    CreateBucket's empty body. Only the same call, sent again, is answered again."""
    import uuid

    tag = uuid.uuid4().hex[:12]
    a, b = f"replay-a-{tag}", f"replay-b-{tag}"
    where = {"LocationConstraint": "ap-northeast-1"}
    s3 = moto.client("s3", "ap-northeast-1")
    pinned = _pinned(moto.client("s3", "ap-northeast-1"), f"s3-{tag}")
    pinned.create_bucket(Bucket=a, CreateBucketConfiguration=where)
    pinned.create_bucket(Bucket=b, CreateBucketConfiguration=where)
    s3.head_bucket(Bucket=b)  # b exists: its PUT was carried out, not answered with a's reply
    s3.put_object(Bucket=a, Key="k", Body=b"value")
    assert pinned.get_object(Bucket=a, Key="k")["Body"].read() == b"value"
    assert [o["Key"] for o in pinned.list_objects_v2(Bucket=a)["Contents"]] == ["k"]
    # The same PUT again (an SDK's retry) is still answered as the first time: moto would
    # refuse it (BucketAlreadyOwnedByYou) if it were carried out twice.
    pinned.create_bucket(Bucket=a, CreateBucketConfiguration=where)
    with pytest.raises(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=a, CreateBucketConfiguration=where)

    # The call that made the replay necessary (a query-protocol POST), on the real emulator.
    ec2 = moto.client("ec2", "ap-northeast-1")
    group = ec2.create_security_group(GroupName=f"replay-{tag}", Description="replay")["GroupId"]
    pinned_ec2 = _pinned(moto.client("ec2", "ap-northeast-1"), f"ec2-{tag}")

    def egress(port: int) -> None:
        rule = {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
        pinned_ec2.authorize_security_group_egress(GroupId=group, IpPermissions=[rule])

    egress(443)
    egress(443)  # the retry: answered again, not refused as a duplicate
    egress(8443)  # another rule with the same id: carried out
    rules = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissionsEgress"]
    assert sorted(r.get("FromPort", -1) for r in rules) == [-1, 443, 8443]


def test_the_replay_keeps_a_bounded_number_of_bytes_and_never_a_read() -> None:
    """cli/motoserve.py: 1,024 replies were kept whatever their size; forty GETs of a 20 MB object
    took the emulator from 226 MB to 970 MB. Reads are now never kept, and the replies kept for
    an SDK's retries hold at most a fixed number of bytes."""
    import tracemalloc

    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    from hclforge.cli import motoserve

    mib = 1024 * 1024

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [bytes(int(environ["QUERY_STRING"]))]

    def call(handle: Any, method: str, size: int, invocation: str) -> bytes:
        environ = EnvironBuilder(
            method=method, path="/big/obj", query_string=str(size), headers={"amz-sdk-invocation-id": invocation}
        ).get_environ()
        return b"".join(handle(environ, lambda *a: None))

    # Measured in this process: what the handler keeps alive after answering.
    handle = motoserve.serialized(app)
    tracemalloc.start()
    try:
        for i in range(40):
            assert len(call(handle, "GET", mib, f"get-{i}")) == mib
        reads = tracemalloc.get_traced_memory()[0]
        for i in range(40):
            call(handle, "PUT", 3 * mib // 4, f"put-{i}")
        writes = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert reads < mib, f"{reads} bytes kept after 40 GETs of 1 MiB"  # 40 MiB before
    assert writes < motoserve.REPLAY_BYTES + mib, f"{writes} bytes kept after 40 PUTs of 0.75 MiB"  # 30 MiB before

    # The bound, read from the cache itself.
    replays = motoserve.Replays(limit=4 * mib, largest=mib)
    handle = motoserve.serialized(app, replays)
    for i in range(40):
        call(handle, "GET", mib, f"get-{i}")
    assert (len(replays), replays.held) == (0, 0)  # reads are never kept
    call(handle, "PUT", mib + 1, "too-big")
    assert (len(replays), replays.held) == (0, 0)  # a reply over the per-reply cap is never kept
    for i in range(40):
        call(handle, "POST", mib // 2, f"post-{i}")
        assert replays.held <= 4 * mib
    assert len(replays) == 7  # each kept reply costs its body, headers and key: seven of 0.5 MiB fit
    assert replays.held > 3 * mib

    # moto keeps each request's environ: the body read for the key is not kept with it.
    environs: list[dict[str, Any]] = []
    stored: list[bytes] = []

    def keeping(environ: dict[str, Any], start_response: Any) -> Any:
        environs.append(environ)
        stored.append(Request(environ).get_data())  # as moto reads it: a copy of its own
        start_response("200 OK", [])
        return [b""]

    handle = motoserve.serialized(keeping)
    tracemalloc.start()
    try:
        for i in range(10):
            environ = EnvironBuilder(
                method="PUT", path=f"/big/{i}", data=bytes(mib), headers={"amz-sdk-invocation-id": f"put-{i}"}
            ).get_environ()
            b"".join(handle(environ, lambda *a: None))
            del environ
        kept = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert stored == [bytes(mib)] * 10
    assert kept < 11 * mib, f"{kept} bytes kept for 10 MiB stored"  # 20 MiB with the body's copy kept
