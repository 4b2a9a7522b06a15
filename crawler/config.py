"""Configuration: one YAML file plus ``NARCWATCH_*`` environment overrides.

Secrets (market credentials, webhook keys, SMTP passwords) are never in this file: a
config names a secret (``credentials: market_a``) and ``crawler.secrets`` resolves it
from the environment or a secrets file at the moment it is used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from narcwatch.crawler.models import Network, Source
from narcwatch.crawler.yamlsource import LocatedYaml, Problem, load_located, problems_from_validation

__all__ = ["Config", "ConfigError", "DashboardConfig", "check_config", "NotifierConfig", "StoreConfig", "TorConfig",
           "load_config"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TorConfig(_Section):
    """Where onion traffic goes. ``socks_urls`` lists several Tor instances (sticky per site)."""

    socks_url: str = "socks5h://127.0.0.1:9050"
    socks_urls: list[str] = Field(default_factory=list)
    control: str | None = "127.0.0.1:9051"
    control_password: str | None = None  # secret name
    isolate_per_source: bool = True
    new_circuit_after_failures: int = Field(default=5, ge=1)

    @model_validator(mode="after")
    def _remote_dns(self) -> "TorConfig":
        for url in [self.socks_url, *self.socks_urls]:
            if urlsplit(url).scheme != "socks5h":
                raise ValueError(f"Tor proxy {url!r} must use socks5h:// so onion names resolve at the proxy")
        return self


class StoreConfig(_Section):
    backend: Literal["sqlite", "elasticsearch", "opensearch"] = "sqlite"
    url: str | None = None
    index_prefix: str = "narcwatch"


class DashboardConfig(_Section):
    """``narcwatch serve``: failed-login throttling (``dashboards.throttle``)."""

    login_max_failures: int = Field(default=5, ge=1)  # per user name, within the window
    login_max_failures_per_address: int = Field(default=20, ge=1)  # per client address (NATs share one)
    login_window_minutes: float = Field(default=15.0, gt=0)
    login_lockout_minutes: float = Field(default=15.0, gt=0)


class NotifierConfig(BaseModel):
    """A delivery target; fields beyond ``id``/``type`` belong to the notifier kind."""

    model_config = ConfigDict(extra="allow")

    id: str
    type: Literal["webhook", "email", "slack", "jsonl", "console"]


class Config(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NARCWATCH_", env_nested_delimiter="__", extra="forbid")

    data_dir: Path = Path("narcwatch-data")
    secrets_file: Path | None = None
    profiles_dirs: list[Path] = Field(default_factory=list)
    tor: TorConfig = Field(default_factory=TorConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    dashboard: DashboardConfig = Field(default_factory=DashboardConfig)
    sources: list[Source] = Field(default_factory=list)
    notifiers: list[NotifierConfig] = Field(default_factory=list)
    rules: list[Path] = Field(default_factory=list)
    # Exchange-rate files (CSV date,currency,usd or JSON), besides <data_dir>/rates/*.csv|json;
    # NARCWATCH_RATES_FILES takes paths separated like PATH (os.pathsep) or a JSON list.
    rates_files: Annotated[list[Path], NoDecode] = Field(default_factory=list)

    @field_validator("rates_files", mode="before")
    @classmethod
    def _split_paths(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                try:
                    return json.loads(text)
                except ValueError:
                    return value
            return [p for p in text.split(os.pathsep) if p.strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the YAML file (passed as init kwargs).
        return (env_settings, init_settings)

    def source(self, source_id: str) -> Source:
        for s in self.sources:
            if s.id == source_id:
                return s
        known = ", ".join(s.id for s in self.sources) or "(none configured)"
        raise KeyError(f"unknown source {source_id!r}; configured sources: {known}")


class ConfigError(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _source_problems(doc: LocatedYaml, i: int, src: Source) -> list[Problem]:
    out: list[Problem] = []
    for j, url in enumerate(src.start_urls):
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme not in ("http", "https"):
            out.append(Problem(doc.file, doc.line_of(("sources", i, "start_urls", j)), f"sources.{i}.start_urls.{j}",
                               "start URL must be http or https", url, ("http", "https")))
        if host.endswith((".onion", ".i2p")) and src.network == Network.CLEARNET:
            out.append(Problem(doc.file, doc.line_of(("sources", i, "network")), f"sources.{i}.network",
                               f"{host} is only reachable through Tor/I2P; set network accordingly",
                               src.network.value, tuple(n.value for n in Network if n != Network.CLEARNET)))
    return out


def _semantic_problems(doc: LocatedYaml, raw_sources: Any) -> list[Problem]:
    """Checks beyond the schema, run on every source that validates on its own, so a
    schema error in one place never hides a mistake elsewhere."""
    if not isinstance(raw_sources, list):
        return []
    out: list[Problem] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_sources):
        try:
            src = Source.model_validate(raw)
        except ValidationError:
            continue  # already reported by the schema pass
        if src.id in seen:
            out.append(Problem(doc.file, doc.line_of(("sources", i, "id")), f"sources.{i}.id",
                               f"duplicate source id (first at sources.{seen[src.id]})", src.id))
        seen.setdefault(src.id, i)
        out += _source_problems(doc, i, src)
    return out


def check_config(path: str | Path, **overrides: Any) -> tuple[Config | None, LocatedYaml | None, list[Problem]]:
    """Validate a config file and return every problem at once (schema and semantic)."""
    try:
        doc = load_located(path)
    except ValueError as exc:
        return None, None, [Problem(str(path), None, "(file)", str(exc))]
    data = doc.data or {}
    if not isinstance(data, dict):
        return None, doc, [Problem(doc.file, 1, "(top level)", "config must be a mapping")]
    problems = _semantic_problems(doc, data.get("sources"))
    cfg: Config | None = None
    try:
        cfg = Config(**{**data, **overrides})
    except ValidationError as exc:
        problems = problems_from_validation(doc, exc.errors()) + problems
    if cfg is not None and not problems:
        base = Path(path).resolve().parent
        cfg.rules = [p if p.is_absolute() else base / p for p in cfg.rules]
        cfg.profiles_dirs = [p if p.is_absolute() else base / p for p in cfg.profiles_dirs]
        cfg.rates_files = [p if p.is_absolute() else base / p for p in cfg.rates_files]
    return (cfg if not problems else None), doc, problems


def load_config(path: str | Path | None = None, **overrides: Any) -> Config:
    """Load and validate a config file; raises ``ConfigError`` listing every problem."""
    if path is None:
        return Config(**overrides)
    cfg, doc, problems = check_config(path, **overrides)
    if problems or cfg is None:
        if len(problems) == 1 and problems[0].where == "(file)":
            raise ValueError(problems[0].message)
        raise ConfigError(problems)
    return cfg
