"""The network's library: legislation, policy documents, case studies, research and training
material, each a web link or a stored file, tagged with the common themes and a country.

Files are stored once per content under `data_dir/attachments`, like inbound attachments,
and a file resource names its bytes by sha256 with the file's name, type and size. An
attachment of an approved post becomes a resource at most once; it keeps its attachment and
post, and takes the post's themes and the author's country unless others are given.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, col, select

from mailhub.communities import known_theme_slugs
from mailhub.countries import check_country
from mailhub.destinations import file_or_folder
from mailhub.errors import Conflict, InvalidInput, NotFound
from mailhub.inbound import attachments
from mailhub.members import check_themes
from mailhub.models import Attachment, Community, Person, Post, PostStatus, Resource
from mailhub.news.publish import community_key
from mailhub.search.queue import mark
from mailhub.threads.themes import post_themes
from mailhub.weblinks import check_url

KINDS = ("legislation", "policy", "case-study", "research", "training", "other")
VIAS = ("cli", "email")


@dataclass(frozen=True)
class ResourceFields:
    """What a person says about a resource; empty title, themes or country mean "default"."""

    title: str
    kind: str = "other"
    description: str = ""
    themes: tuple[str, ...] = ()
    country: str | None = None


@dataclass(frozen=True)
class Origin:
    """Who added a resource, and how (the CLI or a moderator's reply by mail)."""

    person_id: int | None = None
    via: str = "cli"


def check_kind(value: str) -> str:
    kind = value.strip().lower()
    if kind not in KINDS:
        raise InvalidInput(f"kind {value!r}: expected one of {', '.join(KINDS)}")
    return kind


def check_fields(session: Session, fields: ResourceFields) -> ResourceFields:
    """The fields with kind, themes and country checked; InvalidInput names the bad one."""
    if not fields.title.strip():
        raise InvalidInput("title: a resource needs a title")
    return ResourceFields(
        title=" ".join(fields.title.split()),
        kind=check_kind(fields.kind),
        description=fields.description,
        themes=tuple(check_themes(list(fields.themes), known_theme_slugs(session))),
        country=check_country(fields.country),
    )


def _resource(
    community: Community, fields: ResourceFields, origin: Origin, now: datetime
) -> Resource:
    return Resource(
        community_id=community_key(community),
        title=fields.title,
        kind=fields.kind,
        description=fields.description,
        themes=list(fields.themes),
        country=fields.country,
        added_by=origin.person_id,
        added_via=origin.via,
        created_at=now,
    )


def _stored(session: Session, resource: Resource) -> Resource:
    """Add a new resource and queue it for the search index in the same transaction."""
    session.add(resource)
    session.flush()
    mark(session, "resource", [resource.id])
    return resource


def add_link(
    session: Session,
    community: Community,
    fields: ResourceFields,
    url: str,
    now: datetime,
    origin: Origin = Origin(),
) -> Resource:
    try:
        link = check_url(url, "--url")
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    resource = _resource(community, check_fields(session, fields), origin, now)
    resource.url = link
    return _stored(session, resource)


def add_file(
    session: Session,
    community: Community,
    fields: ResourceFields,
    path: Path,
    root: Path,
    now: datetime,
    origin: Origin = Origin(),
) -> Resource:
    """Store the file's bytes by their sha256 and add a resource naming them."""
    if not path.is_file():
        raise InvalidInput(f"--file {str(path)!r}: no such file")
    title = fields.title if fields.title.strip() else path.name
    checked = check_fields(
        session,
        ResourceFields(title, fields.kind, fields.description, fields.themes, fields.country),
    )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"--file {str(path)!r}: cannot be read ({exc.strerror})") from None
    digest = hashlib.sha256(data).hexdigest()
    attachments.save(root, digest, data)
    resource = _resource(community, checked, origin, now)
    resource.sha256 = digest
    resource.filename = path.name
    resource.content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    resource.size = len(data)
    return _stored(session, resource)


def stored_file(resource: Resource, root: Path) -> Path | None:
    """Where the bytes of a file resource are, or None for a web link."""
    if not resource.sha256:
        return None
    return attachments.attachment_path(root, resource.sha256)


def get_resource(session: Session, resource_id: int) -> Resource:
    resource = session.get(Resource, resource_id)
    if resource is None:
        raise NotFound(f"no resource {resource_id}")
    return resource


def find(
    session: Session,
    community: Community | None = None,
    kind: str | None = None,
    theme: str | None = None,
    country: str | None = None,
) -> list[Resource]:
    """Resources, newest first, narrowed by the filters given (each checked like input)."""
    query = select(Resource).order_by(col(Resource.id).desc())
    if community is not None:
        query = query.where(Resource.community_id == community.id)
    if kind:
        query = query.where(Resource.kind == check_kind(kind))
    if country:
        query = query.where(Resource.country == check_country(country))
    wanted = check_themes([theme], known_theme_slugs(session))[0] if theme else None
    return [r for r in session.exec(query) if wanted is None or wanted in r.themes]


def remove(session: Session, resource_id: int) -> Resource:
    """Take a resource out of the library; its stored bytes stay (other rows may share them)."""
    resource = get_resource(session, resource_id)
    session.delete(resource)
    session.flush()
    mark(session, "resource", [resource_id])
    return resource


def safe_file_name(resource: Resource) -> str:
    """The resource's file name as a single path part: it came from a sender's mail, so
    ``../x`` or ``/etc/x`` must never choose where an export lands."""
    name = Path((resource.filename or "").replace("\\", "/")).name
    if name in ("", ".", ".."):
        return resource.sha256 or f"resource-{resource.id}"
    return name


def export(resource: Resource, root: Path, to: str, overwrite: bool = False) -> Path:
    """Write a file resource's bytes to ``to``: a file, or a folder that takes the
    resource's file name (see destinations.py)."""
    source = stored_file(resource, root)
    if source is None:
        raise Conflict(f"resource {resource.id} is a web link ({resource.url}), not a file")
    if not source.is_file():
        raise Conflict(f"resource {resource.id}: its stored file {resource.sha256} is missing")
    target = file_or_folder(to, safe_file_name(resource))
    if target.exists() and not overwrite:
        raise Conflict(f"{target} exists already (--force replaces it)")
    if not target.parent.is_dir():
        raise InvalidInput(f"--to {to!r}: no such folder {str(target.parent)!r}")
    data = source.read_bytes()
    if hashlib.sha256(data).hexdigest() != resource.sha256:
        raise Conflict(f"resource {resource.id}: its stored file does not match its sha256")
    try:
        target.write_bytes(data)
    except OSError as exc:
        raise InvalidInput(f"--to {to!r}: cannot be written ({exc.strerror})") from None
    return target


def post_attachments(session: Session, post: Post) -> list[Attachment]:
    """A post's attachments in the order they came; attachment K is the K-th of these."""
    query = select(Attachment).where(Attachment.post_id == post.id).order_by(col(Attachment.id))
    return list(session.exec(query))


def attachment_number(session: Session, post: Post, number: int) -> Attachment:
    found = post_attachments(session, post)
    if not 1 <= number <= len(found):
        have = f"it has {len(found)}" if found else "it has none"
        raise InvalidInput(f"post {post.id} has no attachment {number} ({have})")
    return found[number - 1]


def resource_of(session: Session, attachment: Attachment) -> Resource | None:
    """The resource an attachment already became, if any."""
    query = select(Resource).where(Resource.attachment_id == attachment.id)
    return session.exec(query).first()


def candidates(
    session: Session, community: Community | None = None
) -> list[tuple[Attachment, Post]]:
    """Attachments of approved posts that are not resources yet, newest post first."""
    taken = select(Resource.attachment_id).where(col(Resource.attachment_id).is_not(None))
    query = (
        select(Attachment, Post)
        .join(Post, col(Post.id) == Attachment.post_id)
        .where(Post.status == PostStatus.APPROVED.value, col(Attachment.id).not_in(taken))
        .order_by(col(Post.id).desc(), col(Attachment.id))
    )
    if community is not None:
        query = query.where(Post.community_id == community.id)
    return [(a, p) for a, p in session.exec(query)]


def approved_post(session: Session, post_id: int) -> Post:
    post = session.get(Post, post_id)
    if post is None:
        raise NotFound(f"no post {post_id}")
    if post.status != PostStatus.APPROVED.value:
        raise Conflict(f"post {post_id} is {post.status}; only approved posts' attachments")
    return post


def add_attachment(
    session: Session,
    post: Post,
    attachment: Attachment,
    fields: ResourceFields,
    now: datetime,
    origin: Origin = Origin(),
) -> Resource:
    """One attachment of an approved post as a resource; Conflict when it is one already.

    The title defaults to the file name, the themes to the post's, the country to the
    author's.
    """
    existing = resource_of(session, attachment)
    if existing is not None:
        raise Conflict(f"{attachment.filename} is resource {existing.id} already")
    community = session.get(Community, post.community_id)
    assert community is not None
    author = session.get(Person, post.person_id) if post.person_id else None
    checked = check_fields(
        session,
        ResourceFields(
            fields.title if fields.title.strip() else attachment.filename,
            fields.kind,
            fields.description,
            fields.themes or tuple(post_themes(session, post)),
            fields.country or (author.country if author else None),
        ),
    )
    resource = _resource(community, checked, origin, now)
    resource.attachment_id = attachment.id
    resource.post_id = post.id
    resource.sha256 = attachment.sha256
    resource.filename = attachment.filename
    resource.content_type = attachment.content_type
    resource.size = attachment.size
    return _stored(session, resource)


def add_from_post(
    session: Session,
    post_id: int,
    fields: ResourceFields,
    now: datetime,
    number: int | None = None,
    origin: Origin = Origin(),
) -> list[Resource]:
    """Attachment ``number`` of an approved post, or each of its attachments that is not a
    resource yet."""
    post = approved_post(session, post_id)
    if number is not None:
        return [
            add_attachment(
                session, post, attachment_number(session, post, number), fields, now, origin
            )
        ]
    free = [a for a in post_attachments(session, post) if resource_of(session, a) is None]
    if not free:
        raise Conflict(f"post {post_id} has no attachment that is not a resource already")
    return [add_attachment(session, post, a, fields, now, origin) for a in free]
