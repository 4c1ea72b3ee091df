"""Categories: create, rename, reorder, delete (only when unused), list."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feedsvc.content import touch_categories
from feedsvc.errors import N_, Conflict, InvalidInput, NotFound
from feedsvc.models import Article, Category, Source
from feedsvc.text import clean_line, clean_text, slugify
from feedsvc.urls import ALL_FEED


class CategoryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    slug: str | None = Field(None, max_length=100, description="Made from the name if absent.")
    description: str = Field("", max_length=2000)


class CategoryInUse(Conflict):
    def __init__(self, name: str, articles: int, sources: int) -> None:
        super().__init__(
            N_(
                "Chuyên mục “%(name)s” đang được %(articles)d tin bài và %(sources)d nguồn tin"
                " dùng; hãy chuyển chúng sang chuyên mục khác trước"
            ),
            name=name,
            articles=articles,
            sources=sources,
        )
        self.name, self.articles, self.sources = name, articles, sources


def list_categories(session: Session) -> list[Category]:
    return list(session.scalars(select(Category).order_by(Category.position, Category.name)))


def get_category(session: Session, slug: str) -> Category:
    category = session.scalar(select(Category).where(Category.slug == slug))
    if category is None:
        raise NotFound(N_("Không có chuyên mục '%(slug)s'"), slug=slug)
    return category


def create_category(
    session: Session,
    name: str,
    now: datetime,
    description: str = "",
    slug: str | None = None,
    position: int | None = None,
) -> Category:
    name = clean_line(name)
    if not name:
        raise InvalidInput(N_("Chuyên mục cần có tên"), {"name": N_("không được để trống")})
    slug = slugify(slug or name)
    if not slug:
        raise InvalidInput(
            N_("Không tạo được slug từ tên này"), {"slug": N_("phải có chữ cái hoặc chữ số")}
        )
    if slug == ALL_FEED:
        raise Conflict(N_("'%(slug)s' đã được dành cho kênh tin của mọi chuyên mục"), slug=ALL_FEED)
    if session.scalar(select(Category.id).where(Category.slug == slug)) is not None:
        raise Conflict(N_("Slug chuyên mục '%(slug)s' đã có"), slug=slug)
    if position is None:
        position = (session.scalar(select(func.max(Category.position))) or 0) + 1
    category = Category(
        name=name,
        slug=slug,
        description=clean_text(description).strip(),
        position=position,
        content_version=0,
        content_changed_at=now,
    )
    session.add(category)
    session.flush()
    touch_categories(session, [category.id], now)
    return category


def rename_category(session: Session, slug: str, name: str, now: datetime) -> Category:
    """A new name; the slug, and so every feed URL, stays."""
    category = get_category(session, slug)
    name = clean_line(name)
    if not name:
        raise InvalidInput(N_("Chuyên mục cần có tên"), {"name": N_("không được để trống")})
    category.name = name
    touch_categories(session, [category.id], now)  # the name is in its feeds
    return category


def move_category(session: Session, slug: str, step: int) -> None:
    """Swap a category with its neighbour above (step -1) or below (+1) in the list."""
    moving = get_category(session, slug)
    ordered = list_categories(session)
    index = ordered.index(moving)
    other = index + step
    if 0 <= other < len(ordered):
        ordered[index], ordered[other] = ordered[other], ordered[index]
        for position, category in enumerate(ordered, start=1):
            category.position = position


def delete_category(session: Session, slug: str) -> None:
    """Refused while articles or sources use it: nothing stored is lost or left without one."""
    category = get_category(session, slug)
    articles = session.scalar(select(func.count()).where(Article.category_id == category.id))
    sources = sum(
        1
        for source in session.scalars(select(Source))
        if source.category_id == category.id or slug in source.category_map.values()
    )
    if articles or sources:
        raise CategoryInUse(category.name, articles or 0, sources)
    session.delete(category)
