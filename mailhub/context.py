"""Everything a command or a worker needs, passed in rather than held in module globals."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from mailhub import db
from mailhub.addresses import AddressBook
from mailhub.clock import Clock
from mailhub.config import Settings
from mailhub.models import Community


@dataclass
class Context:
    """Settings, the store and the clock of one running instance."""

    settings: Settings
    engine: Engine
    clock: Clock = field(default_factory=Clock)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> Context:
        engine = db.make_engine(settings.database_url, echo=settings.database.echo)
        return cls(settings=settings, engine=engine, clock=clock or Clock())

    @contextmanager
    def session(self) -> Iterator[Session]:
        with db.session_scope(self.engine) as session:
            yield session

    def now(self) -> datetime:
        return self.clock.now()

    def queue_time(self) -> datetime:
        """When mail queued now is due (the clock's now, unless it anticipates)."""
        return self.clock.queue_time()

    @property
    def secret(self) -> str:
        return self.settings.instance.secret

    def address_book(self, session: Session) -> AddressBook:
        """The address scheme for the communities in the store, read once per session
        (creating a community forgets it, see communities.create_community)."""
        book = session.info.get("address_book")
        if book is None:
            rows = session.exec(select(Community.slug, Community.local_part)).all()
            book = AddressBook(self.settings.instance.domain, dict(rows), self.settings.addresses)
            session.info["address_book"] = book
        return book
