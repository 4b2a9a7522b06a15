"""Site profiles: a new site of a known kind is a YAML file, not Python.

A profile says where to start, how to recognise index and item pages, which selectors
give each field, how to paginate and log in, and how to recognise a logged-out page, a
DDoS-guard queue or a CAPTCHA. ``ProfileRegistry`` loads the bundled profiles
(``spiders/profiles/*.yaml``) and any configured folders, keeping every problem with
its file and line for ``narcwatch sources check``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from narcwatch.crawler.yamlsource import Problem, load_located, problems_from_validation

__all__ = ["BUNDLED", "Profile", "ProfileRegistry"]

BUNDLED = Path(__file__).parent / "profiles"


class _P(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldSpec(_P):
    """A CSS or XPath selector (``css``/``xpath``), optionally narrowed by a regex."""

    css: str | None = None
    xpath: str | None = None
    re: str | None = None
    many: bool = False
    required: bool = False
    # Text as laid out: nodes joined as they are and line breaks kept. For PGP blocks and
    # signed posts, whose meaning (armor, signature) depends on the exact lines.
    pre: bool = False


class ItemSpec(_P):
    """How to find item pages on index pages and read their fields."""

    type: Literal["listing", "post", "vendor"]
    link: str  # CSS selector for links to item pages (or "self": the index page lists items inline)
    block: str | None = None  # with link "self": CSS selector of each inline item (post, message); fields are relative
    entry: str | None = None  # CSS selector of a link's index entry (row); its text decides "changed" on recrawl
    url_pattern: str | None = None  # regex an item URL must match
    site_id: str | None = None  # regex with one group on the URL giving the site-native id
    fields: dict[str, FieldSpec | str] = Field(default_factory=dict)


class LoginSpec(_P):
    url: str
    form: str = "form"
    username_field: str = "username"
    password_field: str = "password"
    captcha_image: str | None = None
    captcha_field: str | None = None


class Detectors(_P):
    """Selectors or substrings that identify a page that is not content."""

    logged_out: str | None = None
    queue: str | None = None
    queue_wait_re: str | None = None
    captcha: str | None = None


class Profile(_P):
    name: str
    kind: Literal["market", "forum", "telegram", "shop"] = "market"
    spider: str = "profile"  # the spider class that runs it; "profile" = declarative
    render_js: bool = False
    index_pages: list[str] = Field(default_factory=list)  # CSS selectors for links to follow (categories)
    pagination: str | None = None  # CSS selector of the "next" link
    max_pages: int = Field(default=10_000, ge=1)
    items: list[ItemSpec] = Field(default_factory=list)
    login: LoginSpec | None = None
    detect: Detectors = Field(default_factory=Detectors)
    allowed_hosts: list[str] = Field(default_factory=list)


_MODEL_FIELDS = {
    "listing": {"title", "vendor", "category", "price", "ships_from", "ships_to", "escrow", "description",
                "available", "site_id", "language"},
    "post": {"author", "thread", "title", "text", "posted_at", "links", "site_id", "language"},
    "vendor": {"handle", "pgp_key", "joined", "sales", "feedback", "description", "site_id"},
}
_REQUIRED = {"listing": {"title"}, "post": {"text"}, "vendor": {"handle"}}


def _semantic_problems(profile: Profile, doc: object, file: str) -> list[Problem]:
    """Field names the item model does not have, regexes that do not compile, missing required fields."""
    import re

    out: list[Problem] = []
    line_of = getattr(doc, "line_of")
    for i, spec in enumerate(profile.items):
        valid = _MODEL_FIELDS[spec.type]
        for name, fs in spec.fields.items():
            where = ("items", i, "fields", name)
            if name not in valid:
                out.append(Problem(file, line_of(where), ".".join(map(str, where)),
                                   f"unknown field for a {spec.type}", name, tuple(sorted(valid))))
            if isinstance(fs, FieldSpec):
                if not (fs.css or fs.xpath):
                    out.append(Problem(file, line_of(where), ".".join(map(str, where)), "needs css or xpath"))
                if fs.re:
                    try:
                        re.compile(fs.re)
                    except re.error as exc:
                        out.append(Problem(file, line_of(where + ("re",)), ".".join(map(str, where)) + ".re",
                                           f"bad regex: {exc}", fs.re))
        missing = _REQUIRED[spec.type] - set(spec.fields)
        if missing:
            out.append(Problem(file, line_of(("items", i, "fields")), f"items.{i}.fields",
                               f"a {spec.type} needs field(s) {', '.join(sorted(missing))}"))
        if spec.link == "self" and not spec.block and spec.type == "post":
            out.append(Problem(file, line_of(("items", i)), f"items.{i}.block",
                               "inline posts (link: self) need a block selector"))
        for key in ("url_pattern", "site_id"):
            pattern = getattr(spec, key)
            if pattern:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    out.append(Problem(file, line_of(("items", i, key)), f"items.{i}.{key}", f"bad regex: {exc}",
                                       pattern))
    return out


class ProfileRegistry:
    def __init__(self, extra_dirs: Iterable[Path] = ()):
        self._profiles: dict[str, Profile] = {}
        self._files: dict[str, str] = {}
        self.problems: list[Problem] = []
        for folder in [BUNDLED, *extra_dirs]:
            for path in sorted(Path(folder).glob("*.y*ml")):
                self._load(path)

    def _load(self, path: Path) -> None:
        try:
            doc = load_located(path)
        except ValueError as exc:
            self.problems.append(Problem(str(path), None, "(file)", str(exc)))
            return
        if not isinstance(doc.data, dict):
            self.problems.append(Problem(str(path), 1, "(top level)", "a profile must be a mapping"))
            return
        try:
            profile = Profile(**doc.data)
        except ValidationError as exc:
            self.problems += problems_from_validation(doc, exc.errors())
            return
        semantic = _semantic_problems(profile, doc, str(path))
        if semantic:
            self.problems += semantic
            return
        if profile.name in self._profiles:
            self.problems.append(Problem(str(path), doc.line_of(("name",)), "name",
                                         f"duplicate profile name (also in {self._files[profile.name]})", profile.name))
            return
        self._profiles[profile.name] = profile
        self._files[profile.name] = str(path)

    def __contains__(self, name: object) -> bool:
        return name in self._profiles

    def __getitem__(self, name: str) -> Profile:
        try:
            return self._profiles[name]
        except KeyError:
            raise KeyError(f"unknown profile {name!r}; available: {', '.join(sorted(self._profiles))}") from None

    def names(self) -> list[str]:
        return sorted(self._profiles)
