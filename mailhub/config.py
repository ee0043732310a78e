"""Settings: `config.toml` read with tomllib, validated into typed objects.

A bad value is reported as the dotted key, what was found and the form expected, and the
CLI exits 2 without a traceback. Environment variables override the file:
MAILHUB_CONFIG (the file), MAILHUB_DATABASE_URL and MAILHUB_SECRET.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails

from mailhub.cron import trigger

DEFAULT_SECRET = "change-me-to-a-long-random-string"
SLUG_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"


class ConfigError(Exception):
    """The configuration cannot be used; the message says which key and why."""


# Pydantic looks for plugins in every installed package's metadata when it builds its first
# model (20-30 ms of each CLI start); mailhub's settings use none, so they are built without
# looking, as typer builds its option checks. The variable is restored after the models.
_PLUGINS_WERE = os.environ.get("PYDANTIC_DISABLE_PLUGINS")
os.environ["PYDANTIC_DISABLE_PLUGINS"] = "1"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r} (expected e.g. 'Europe/Zurich')") from exc
    return value


def check_optional_cron(value: str, info: ValidationInfo) -> str:
    """A cron line, or empty for "only by hand"; ValueError when it cannot be read.

    Reading one takes APScheduler (70 ms to import): a command that runs no schedule loads
    the settings with ``schedules=False`` and the line is kept as written (see `load`)."""
    if value.strip() and (info.context or {}).get("schedules", True):
        trigger(value, "UTC")
    return value.strip()


class InstanceSettings(Section):
    name: str = "mailhub"
    secret: str = DEFAULT_SECRET
    data_dir: Path = Path("data")
    domain: str = "lists.example.org"
    timezone: str = "UTC"
    public_url: str | None = None
    templates_dir: Path | None = None
    admin_email: str | None = None

    _tz = field_validator("timezone")(check_timezone)

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, value: str) -> str:
        if len(value) < 16:
            raise ValueError("must be at least 16 characters")
        return value

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9.-]+\.[A-Za-z]{2,}|localhost", value):
            raise ValueError(f"{value!r} is not a domain name (expected e.g. 'lists.example.org')")
        return value.lower()


class DatabaseSettings(Section):
    url: str | None = None
    echo: bool = False


class AddressSettings(Section):
    separator: str = "+"
    request_suffix: str = "-request"
    news_suffix: str = "-news"
    events_suffix: str = "-events"
    owner_suffix: str = "-owner"


class SmtpSettings(Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8025
    lmtp: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None
    timeout_seconds: Annotated[float, Field(gt=0)] = 300.0
    max_recipients: Annotated[int, Field(ge=1)] = 100


class InboundSettings(Section):
    max_message_bytes: Annotated[int, Field(ge=1024)] = 10 * 1024 * 1024
    spool_fsync: bool = False
    workers: Annotated[int, Field(ge=1, le=32)] = 2
    worker_priority: Literal["idle", "mixed", "low"] = "idle"
    lease_seconds: Annotated[float, Field(gt=0)] = 60.0
    max_attachment_bytes: Annotated[int, Field(ge=0)] = 5 * 1024 * 1024
    allowed_attachment_types: list[str] = Field(
        default_factory=lambda: [
            "application/pdf",
            "image/*",
            "text/*",
            "application/vnd.openxmlformats-officedocument.*",
            "application/msword",
            "application/vnd.ms-excel",
            "application/vnd.oasis.opendocument.*",
        ]
    )


class RelaySettings(Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 25
    security: Literal["none", "starttls", "tls"] = "none"
    username: str | None = None
    password_env: str | None = None
    timeout_seconds: Annotated[float, Field(gt=0)] = 30.0
    connections: Annotated[int, Field(ge=1, le=64)] = 4
    max_per_second: Annotated[float, Field(ge=0)] = 0.0


class OutboundSettings(Section):
    mode: Literal["maildir", "smtp"] = "maildir"
    maildir: Path = Path("outbox")
    relay: RelaySettings = RelaySettings()
    max_attempts: Annotated[int, Field(ge=1)] = 8
    retry_base_seconds: Annotated[float, Field(gt=0)] = 60.0
    retry_max_seconds: Annotated[float, Field(gt=0)] = 6 * 3600.0
    lease_seconds: Annotated[float, Field(gt=0)] = 60.0
    batch_size: Annotated[int, Field(ge=1)] = 200


class WebSettings(Section):
    """The small web endpoint (unsubscribe and confirmation pages), behind an HTTPS proxy."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8026


class PortalSettings(Section):
    """The web portal: how long a sign-in lasts, and how often one may be asked for."""

    sign_in_minutes: Annotated[int, Field(ge=1, le=120)] = 15
    session_days: Annotated[int, Field(ge=1, le=365)] = 30
    sign_ins_per_address_hour: Annotated[int, Field(ge=1)] = 5
    sign_ins_per_ip_hour: Annotated[int, Field(ge=1)] = 20
    page_size: Annotated[int, Field(ge=5, le=500)] = 50


class ReportSettings(Section):
    """Participation reports: who counts as core, and when moderators get the monthly mail."""

    core_posts: Annotated[int, Field(ge=2)] = 5
    cron: str = ""

    _cron = field_validator("cron")(check_optional_cron)


class SearchSettings(Section):
    """The search index: kept up to date off the ingest path, and how much a search shows."""

    enabled: bool = True
    batch_size: Annotated[int, Field(ge=1, le=10_000)] = 500
    results_per_page: Annotated[int, Field(ge=5, le=100)] = 20
    mail_results: Annotated[int, Field(ge=1, le=50)] = 10


class DkimSettings(Section):
    """DKIM signing of outgoing mail; off unless a key is named."""

    private_key: Path | None = None
    selector: str = "mailhub"
    ed25519_key: Path | None = None
    ed25519_selector: str = "mailhub-ed25519"
    domain: str | None = None
    sign_processes: Annotated[int, Field(ge=0)] = 1


class MtaSettings(Section):
    """The MTA in front of mailhub: where its Postfix maps go, and which Postfix to ask."""

    postfix_dir: Path | None = None
    postfix_config: Path | None = None


class DeliverySettings(Section):
    """How posts are delivered, and when bounces disable a member's delivery."""

    reply_to: Literal["member", "list-and-author"] = "member"
    bounce_threshold: Annotated[float, Field(gt=0)] = 5.0
    hard_bounce_score: Annotated[float, Field(ge=0)] = 1.0
    soft_bounce_score: Annotated[float, Field(ge=0)] = 0.5
    bounce_memory_days: Annotated[int, Field(ge=1)] = 30


class ModerationSettings(Section):
    """Threading by subject, and reminders of what waits for a moderator."""

    subject_window_days: Annotated[int, Field(ge=0)] = 30
    remind_after_hours: Annotated[float, Field(ge=0)] = 24.0
    max_post_bytes: Annotated[int, Field(ge=1024)] = 1024 * 1024


class DiscussionSettings(Section):
    """Time-boxed discussions: how long they last and when the reminder goes out."""

    default_days: Annotated[int, Field(ge=1)] = 14
    reminder_before_hours: Annotated[float, Field(ge=0)] = 48.0
    synopsis_token_days: Annotated[int, Field(ge=1)] = 90


class SchedulerSettings(Section):
    """How often `mailhub serve` wakes the scheduler to do what is due."""

    enabled: bool = True
    interval_seconds: Annotated[float, Field(gt=0)] = 30.0


class NewsletterSettings(Section):
    """When the newsletter builds and sends itself; empty means only by hand."""

    cron: str = ""

    _cron = field_validator("cron")(check_optional_cron)


class EventSettings(Section):
    """Reminders of approved events, and when the event digest sends itself (empty: by hand)."""

    reminder_hours: Annotated[float, Field(gt=0)] = 24.0
    digest_cron: str = ""
    digest_weeks: Annotated[int, Field(ge=1, le=52)] = 4

    _cron = field_validator("digest_cron")(check_optional_cron)


class ImapMailboxSettings(Section):
    """One mailbox polled over IMAP, for organisations that can only give us a mailbox."""

    name: Annotated[str, Field(pattern=SLUG_PATTERN)]
    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 993
    security: Literal["none", "starttls", "tls"] = "tls"
    username: str
    password_env: str
    folder: str = "INBOX"
    move_to: str | None = None
    flag: str = "\\Seen"
    recipient: str | None = None
    poll_seconds: Annotated[float, Field(gt=0)] = 60.0
    idle: bool = True
    timeout_seconds: Annotated[float, Field(gt=0)] = 60.0
    verify_tls: bool = True


class CommunitySettings(Section):
    slug: Annotated[str, Field(pattern=SLUG_PATTERN)]
    name: str
    local_part: str | None = None
    description: str = ""
    tag: str | None = None
    timezone: str = "UTC"
    moderation: Literal["all", "first-post", "none"] = "all"
    nonmember_policy: Literal["hold", "reject", "discard"] = "hold"
    digest_cron: str = "0 8 * * mon"
    archive: Literal["public", "members", "none"] = "members"
    target_mix: str = ""

    _tz = field_validator("timezone")(check_timezone)

    @field_validator("target_mix", mode="before")
    @classmethod
    def _mix(cls, value: object) -> str:
        from mailhub.reports.targets import canonical

        if not isinstance(value, str | dict):
            raise ValueError("a table such as { government = 20, workers = 20 } or a line")
        return canonical(value)

    @field_validator("digest_cron")
    @classmethod
    def _cron(cls, value: str, info: ValidationInfo) -> str:
        if not value.strip():
            raise ValueError("a cron line, e.g. '0 8 * * mon'")
        return check_optional_cron(value, info)


class ThemeSettings(Section):
    slug: Annotated[str, Field(pattern=SLUG_PATTERN)]
    name: str


class Settings(Section):
    instance: InstanceSettings = InstanceSettings()
    database: DatabaseSettings = DatabaseSettings()
    addresses: AddressSettings = AddressSettings()
    smtp: SmtpSettings = SmtpSettings()
    inbound: InboundSettings = InboundSettings()
    outbound: OutboundSettings = OutboundSettings()
    web: WebSettings = WebSettings()
    portal: PortalSettings = PortalSettings()
    search: SearchSettings = SearchSettings()
    dkim: DkimSettings = DkimSettings()
    mta: MtaSettings = MtaSettings()
    delivery: DeliverySettings = DeliverySettings()
    moderation: ModerationSettings = ModerationSettings()
    discussions: DiscussionSettings = DiscussionSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    newsletter: NewsletterSettings = NewsletterSettings()
    events: EventSettings = EventSettings()
    reports: ReportSettings = ReportSettings()
    communities: list[CommunitySettings] = Field(default_factory=list)
    imap: list[ImapMailboxSettings] = Field(default_factory=list)
    themes: list[ThemeSettings] = Field(default_factory=list)
    source: Path | None = None

    @property
    def data_dir(self) -> Path:
        base = self.source.parent if self.source else Path.cwd()
        path = self.instance.data_dir
        return path if path.is_absolute() else (base / path).resolve()

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.data_dir / 'mailhub.db'}"

    @property
    def templates_override(self) -> Path | None:
        path = self.instance.templates_dir
        if path is None:
            return None
        base = self.source.parent if self.source else Path.cwd()
        return path if path.is_absolute() else (base / path).resolve()

    @property
    def postfix_maps(self) -> Path:
        """Where `mailhub mta postfix` writes the maps: [mta] postfix_dir, else
        <data_dir>/postfix."""
        path = self.mta.postfix_dir
        if path is None:
            return self.data_dir / "postfix"
        base = self.source.parent if self.source else Path.cwd()
        return path if path.is_absolute() else (base / path).resolve()

    @property
    def outbox_maildir(self) -> Path:
        path = self.outbound.maildir
        return path if path.is_absolute() else self.data_dir / path


if _PLUGINS_WERE is None:
    del os.environ["PYDANTIC_DISABLE_PLUGINS"]
else:
    os.environ["PYDANTIC_DISABLE_PLUGINS"] = _PLUGINS_WERE


def _describe(error: ErrorDetails) -> str:
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key (check the spelling against the documented config.toml)"
    given = error.get("input")
    shown = "" if isinstance(given, dict | list) or given is None else f" (found {given!r})"
    return f"{key}: {message}{shown}"


def from_mapping(
    data: dict[str, Any], source: Path | None = None, schedules: bool = True
) -> Settings:
    """Validate a parsed TOML document, applying environment overrides; ``schedules=False``
    leaves cron lines unread (for commands that run none)."""
    data = {**data}
    env_url = os.environ.get("MAILHUB_DATABASE_URL")
    env_secret = os.environ.get("MAILHUB_SECRET")
    if env_url:
        data["database"] = {**data.get("database", {}), "url": env_url}
    if env_secret:
        data["instance"] = {**data.get("instance", {}), "secret": env_secret}
    try:
        return Settings.model_validate({**data, "source": source}, context={"schedules": schedules})
    except ValidationError as exc:
        lines = [_describe(e) for e in exc.errors()]
        where = f"{source}: " if source else ""
        raise ConfigError(where + "invalid configuration\n  " + "\n  ".join(lines)) from None


def default_path() -> Path | None:
    """MAILHUB_CONFIG, else ./config.toml when present, else built-in defaults."""
    env = os.environ.get("MAILHUB_CONFIG")
    if env:
        return Path(env)
    local = Path("config.toml")
    return local if local.exists() else None


def load(path: Path | None = None, schedules: bool = True) -> Settings:
    """Load and validate settings; raise ConfigError with a readable message.
    ``schedules=False``: cron lines are not read (see `check_optional_cron`)."""
    path = path or default_path()
    if path is None:
        return from_mapping({}, schedules=schedules)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return from_mapping(data, source=path.resolve(), schedules=schedules)
