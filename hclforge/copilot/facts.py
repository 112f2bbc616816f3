"""What the mapping of one environment knows beyond the manifests: names, region, account, images."""

from __future__ import annotations

from dataclasses import dataclass, field

from hclforge.copilot.report import Tracker

LBWS = "Load Balanced Web Service"
BACKEND = "Backend Service"
WORKER = "Worker Service"
JOB = "Scheduled Job"
RDWS = "Request-Driven Web Service"
STATIC = "Static Site"


@dataclass
class Facts:
    """One Copilot environment being imported.

    Attributes:
        env: the Copilot environment's name.
        app: the Copilot application's name (``COPILOT_APPLICATION_NAME``).
        region: the environment's region (flag or manifest).
        account: its account id, if known.
        images: ``--image SERVICE=URI`` values.
        needs_account: where an ARN needs the account and none was given.
    """

    env: str
    app: str
    region: str
    account: str | None
    images: dict[str, str]
    needs_account: list[str] = field(default_factory=list)
    origin: str = "--region"

    @property
    def partition(self) -> str:
        """The ARN partition of the region: aws, aws-cn or aws-us-gov."""
        if self.region.startswith("cn-"):
            return "aws-cn"
        if self.region.startswith("us-gov-"):
            return "aws-us-gov"
        return "aws"

    def arn(self, service: str, resource: str, tracker: Tracker, where: tuple[str | int, ...]) -> str:
        """An ARN in this environment's region and account (``ACCOUNT_ID`` when unknown, and noted)."""
        account = self.account
        if account is None:
            line = tracker.manifest.line(tracker.view.source.get(where, where))
            self.needs_account.append(f"{tracker.manifest.file}:{line}")
            account = "ACCOUNT_ID"
        return f"arn:{self.partition}:{service}:{self.region}:{account}:{resource}"


@dataclass(frozen=True)
class Alias:
    """A domain name a Load Balanced Web Service answered on (``http.alias``)."""

    name: str
    zone: str | None
    service: str
    path: tuple[str | int, ...]
