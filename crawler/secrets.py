"""Secrets come from the environment or a secrets file, never from the config file.

A secret is looked up by name: ``NARCWATCH_SECRET_<NAME>`` first, then the secrets file
(YAML mapping of name to value, which must not be readable by group or others).
Values are ``SecretStr`` so they print as ``**********`` in logs and errors.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import yaml
from pydantic import SecretStr

__all__ = ["SecretNotFound", "Secrets"]


class SecretNotFound(KeyError):
    pass


class Secrets:
    def __init__(self, secrets_file: Path | None = None, environ: dict[str, str] | None = None):
        self._file = secrets_file
        self._env = os.environ if environ is None else environ
        self._cache: dict[str, str] | None = None

    def _from_file(self) -> dict[str, str]:
        if self._cache is None:
            self._cache = {}
            if self._file and self._file.exists():
                mode = self._file.stat().st_mode
                if mode & (stat.S_IRWXG | stat.S_IRWXO):
                    raise PermissionError(f"secrets file {self._file} is readable by others; chmod 600 it")
                data = yaml.safe_load(self._file.read_text(encoding="utf-8")) or {}
                self._cache = {str(k): str(v) for k, v in data.items()}
        return self._cache

    def get(self, name: str) -> SecretStr:
        env_key = "NARCWATCH_SECRET_" + name.upper().replace("-", "_").replace(".", "_")
        if env_key in self._env:
            return SecretStr(self._env[env_key])
        values = self._from_file()
        if name in values:
            return SecretStr(values[name])
        raise SecretNotFound(f"secret {name!r} not set: export {env_key}=... or add it to the secrets file")

    def all_values(self) -> list[str]:
        """Every known secret value, for redaction of logs, errors and exports."""
        vals = [v for k, v in self._env.items() if k.startswith("NARCWATCH_SECRET_")]
        vals += list(self._from_file().values())
        return [v for v in vals if len(v) >= 4]
