"""The network's library: legislation, policy documents, case studies, research and training
material, each a web link or a stored file, tagged with the common themes and a country.

Files are stored once per content under `data_dir/attachments`, like inbound attachments. An
attachment of an approved post becomes a resource by pointing at its attachment row; a file
added from the CLI has no attachment row, so its resource names it as `attachment:<sha256>/<name>`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, col, select

from mailhub.communities import list_themes
from mailhub.errors import Conflict, InvalidInput, NotFound
from mailhub.inbound import attachments
from mailhub.members import check_country, check_themes
from mailhub.models import Attachment, Community, Person, Post, PostStatus, Resource
from mailhub.news.eventlines import check_url
from mailhub.news.publish import community_key

KINDS = ("legislation", "policy", "case-study", "research", "training", "other")
FILE_SCHEME = "attachment:"


@dataclass(frozen=True)
class ResourceFields:
    title: str
    kind: str = "other"
    description: str = ""
    themes: tuple[str, ...] = ()
    country: str | None = None


def check_fields(session: Session, fields: ResourceFields) -> ResourceFields:
    """The fields with kind, themes and country checked; InvalidInput names the bad one."""
    if not fields.title.strip():
        raise InvalidInput("title: a resource needs a title")
    kind = fields.kind.strip().lower()
    if kind not in KINDS:
        raise InvalidInput(f"kind {fields.kind!r}: expected one of {', '.join(KINDS)}")
    known = {t.slug for t in list_themes(session)}
    return ResourceFields(
        title=fields.title.strip(),
        kind=kind,
        description=fields.description,
        themes=tuple(check_themes(list(fields.themes), known)),
        country=check_country(fields.country),
    )


def _resource(community: Community, fields: ResourceFields, now: datetime) -> Resource:
    return Resource(
        community_id=community_key(community),
        title=fields.title,
        kind=fields.kind,
        description=fields.description,
        themes=list(fields.themes),
        country=fields.country,
        created_at=now,
    )


def add_link(
    session: Session, community: Community, fields: ResourceFields, url: str, now: datetime
) -> Resource:
    try:
        link = check_url(url, "url")
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    resource = _resource(community, check_fields(session, fields), now)
    resource.url = link
    session.add(resource)
    session.flush()
    return resource


def add_file(
    session: Session,
    community: Community,
    fields: ResourceFields,
    path: Path,
    root: Path,
    now: datetime,
) -> Resource:
    """Store the file's bytes by their sha256 and add a resource naming them."""
    if not path.is_file():
        raise InvalidInput(f"file {str(path)!r}: no such file")
    checked = check_fields(session, fields)
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    attachments.save(root, digest, data)
    resource = _resource(community, checked, now)
    resource.url = f"{FILE_SCHEME}{digest}/{path.name}"
    session.add(resource)
    session.flush()
    return resource


def stored_file(resource: Resource, root: Path) -> Path | None:
    """Where the bytes of a file resource are, or None for a web link."""
    if not resource.url or not resource.url.startswith(FILE_SCHEME):
        return None
    digest = resource.url.removeprefix(FILE_SCHEME).split("/", 1)[0]
    return attachments.attachment_path(root, digest)


def candidates(
    session: Session, community: Community | None = None
) -> list[tuple[Attachment, Post]]:
    """Attachments of approved posts that are not resources yet, newest post first."""
    taken = select(Resource.attachment_id).where(col(Resource.attachment_id).is_not(None))
    query = (
        select(Attachment, Post)
        .join(Post, Post.id == Attachment.post_id)  # type: ignore[arg-type]
        .where(Post.status == PostStatus.APPROVED.value, col(Attachment.id).not_in(taken))
        .order_by(col(Post.id).desc(), col(Attachment.id))
    )
    if community is not None:
        query = query.where(Post.community_id == community.id)
    return [(a, p) for a, p in session.exec(query)]


def add_from_post(
    session: Session, post_id: int, fields: ResourceFields, now: datetime
) -> list[Resource]:
    """Each attachment of an approved post not yet a resource, with the given kind and tags;
    the country defaults to the author's."""
    post = session.get(Post, post_id)
    if post is None:
        raise NotFound(f"no post {post_id}")
    if post.status != PostStatus.APPROVED.value:
        raise Conflict(f"post {post_id} is {post.status}; only approved posts' attachments")
    community = session.get(Community, post.community_id)
    assert community is not None
    author = session.get(Person, post.person_id) if post.person_id else None
    country = fields.country or (author.country if author else None)
    made = []
    for attachment, _post in candidates(session, community):
        if attachment.post_id != post.id:
            continue
        title = fields.title if fields.title.strip() else attachment.filename
        checked = check_fields(
            session,
            ResourceFields(title, fields.kind, fields.description, fields.themes, country),
        )
        resource = _resource(community, checked, now)
        resource.attachment_id = attachment.id
        session.add(resource)
        made.append(resource)
    if not made:
        raise Conflict(f"post {post_id} has no attachment that is not a resource already")
    session.flush()
    return made
