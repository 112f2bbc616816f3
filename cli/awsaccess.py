"""AWS access for one environment: the account guard, the emulator, boto3 sessions.

On the emulator every client is the emulator's scrubbed one (nothing of the user's
AWS setup is read); otherwise the environment's profile is used, after the account
check when ``aws.account_id`` is set (:meth:`hclforge.cli.ops.Workspace.aws_session`
puts the two together).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hclforge.cli import emulator
from hclforge.errors import ConfigError, Problem, TerraformError

if TYPE_CHECKING:
    from hclforge.cli.settings import Settings
    from hclforge.loaded import LoadedEnv
    from hclforge.model import AwsConfig

# The account check's STS call fails within 3 attempts x (3 s connect + 5 s read) = 24 s.
STS_CLIENT_CONFIG: dict[str, Any] = {
    "connect_timeout": 3,
    "read_timeout": 5,
    "retries": {"total_max_attempts": 3, "mode": "standard"},
}


def check_account(loaded: LoadedEnv, on_emulator: bool) -> None:
    """Refuse credentials of another AWS account, before terraform runs.

    Applies when ``aws.account_id`` is set and the target is not the emulator.

    Args:
        loaded: the environment (its ``aws`` settings, and where ``aws.account_id`` was set).
        on_emulator: whether this run talks to the emulator (then nothing is checked).

    Raises:
        ConfigError: the credentials belong to another account (exit 2).
        TerraformError: the caller's account cannot be found out.
    """
    cfg = loaded.config
    if cfg.aws.account_id is None or on_emulator:
        return
    import boto3
    import botocore.exceptions
    from botocore.config import Config

    endpoint = "STS"
    try:
        session = boto3.session.Session(profile_name=cfg.aws.profile, region_name=cfg.aws.region)
        client = session.client("sts", config=Config(**STS_CLIENT_CONFIG))
        endpoint = str(client.meta.endpoint_url)
        actual = client.get_caller_identity()["Account"]
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
        raise TerraformError(
            f"cannot check the AWS account before running terraform: STS at {endpoint}: {err}"
        ) from None
    if actual != cfg.aws.account_id:
        file, line = loaded.origins.get(("aws", "account_id"), (f"envs/{loaded.name}.yaml", 0))
        raise ConfigError(
            [
                Problem(
                    file,
                    line,
                    "aws.account_id",
                    f"your credentials are for AWS account {actual}, not {cfg.aws.account_id}; "
                    "refusing before terraform runs (check AWS_PROFILE / aws.profile)",
                )
            ]
        )


class EmulatorSession:
    """A boto3-session look-alike whose clients all talk to the emulator, with its scrubbed session."""

    def __init__(self, emu: emulator.Emulator, region: str) -> None:
        self.emu = emu
        self.region = region

    def client(self, service: str, **_kwargs: Any) -> Any:
        return self.emu.client(service, self.region)


def start_emulator(settings: Settings, info: Callable[[str], None]) -> emulator.Emulator:
    """The local emulator, started if it is not running; a start is said once, through ``info``.

    The emulator outlives the command that starts it (it keeps the state between
    commands): the user learns that a process now runs, which one, and how to stop it.
    """
    emu = emulator.start(settings.state_dir, settings.emulator_port)
    if emu.launched:
        info(
            f"started the local AWS emulator (moto server, pid {emu.pid}) on {emu.endpoint}; it keeps "
            "running in the background for the next commands: stop it with 'hclforge emulator stop'"
        )
    return emu


def profile_session(aws: AwsConfig) -> Any:
    """A boto3 session with the environment's profile and region (check the account first)."""
    import boto3

    return boto3.session.Session(profile_name=aws.profile, region_name=aws.region)
