"""Run one crawl of one source in a child process and return its outcome.

Scrapy's reactor cannot be restarted in a process, so a scheduler (or a test) that
crawls many times runs each crawl in a fresh interpreter: ``python -m
narcwatch.crawler.runner JOBFILE``. The parent passes source, config and data dir in a
JSON job file and reads the result file the child writes at the end.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from narcwatch.crawler.config import Config
from narcwatch.crawler.models import Source
from narcwatch.crawler.paths import DataDir

__all__ = ["CrawlResult", "crawl_source", "new_crawl_id", "read_result", "spawn_crawl"]


@dataclass
class CrawlResult:
    source: str
    crawl_id: str
    complete: bool = False
    pages: int = 0
    items: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    health: list[str] = field(default_factory=list)
    full: bool = True
    finish_reason: str = ""
    returncode: int = 0
    stats: dict[str, Any] = field(default_factory=dict)
    log_file: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def new_crawl_id(source_id: str) -> str:
    return f"{source_id}-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"


def crawl_source(source: Source, config: Config, data_dir: DataDir, *, crawl_id: str | None = None,
                 proxy_url: str | None = None, extra_settings: dict[str, Any] | None = None,
                 timeout: float | None = None) -> CrawlResult:
    """Crawl ``source`` once in a subprocess; re-using a ``crawl_id`` resumes that crawl."""
    crawl_id = crawl_id or new_crawl_id(source.id)
    with tempfile.TemporaryDirectory(prefix="narcwatch-crawl-") as tmp:
        proc = spawn_crawl(source, config, data_dir, Path(tmp), crawl_id=crawl_id, proxy_url=proxy_url,
                           extra_settings=extra_settings, capture_output=True)
        try:
            _, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
        return read_result(Path(tmp), source, crawl_id, data_dir, proc.returncode, stderr)


def spawn_crawl(source: Source, config: Config, data_dir: DataDir, workdir: Path, *, crawl_id: str,
                proxy_url: str | None = None, extra_settings: dict[str, Any] | None = None,
                capture_output: bool = False, start_new_session: bool = False) -> subprocess.Popen[bytes]:
    """Start the crawl child without waiting (a supervisor, or a test that kills it mid-crawl).

    ``start_new_session``: a supervisor that forwards its own stop signal keeps the child
    out of the terminal's process group, so Ctrl-C does not reach it twice (Scrapy treats
    a second signal as "stop now, uncleanly").

    ``workdir`` receives the job file and, when the crawl ends, ``result.json`` (``read_result``)."""
    data_dir.ensure()
    job, out = workdir / "job.json", workdir / "result.json"
    out.unlink(missing_ok=True)
    job.write_text(json.dumps({
        "source": source.model_dump(mode="json"), "config": config.model_dump(mode="json"),
        "data_dir": str(data_dir.root), "crawl_id": crawl_id, "proxy_url": proxy_url,
        "extra_settings": extra_settings or {}, "result": str(out),
        "log_file": str(data_dir.logs / f"{crawl_id}.log"),
    }), encoding="utf-8")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    pipe = subprocess.PIPE if capture_output else subprocess.DEVNULL
    return subprocess.Popen([sys.executable, "-m", "narcwatch.crawler.runner", str(job)], env=env,
                            stdin=subprocess.DEVNULL, stdout=pipe, stderr=pipe, start_new_session=start_new_session)


def read_result(workdir: Path, source: Source, crawl_id: str, data_dir: DataDir, returncode: int,
                stderr: bytes | None = None) -> CrawlResult:
    out = workdir / "result.json"
    if out.exists():
        result = CrawlResult(**json.loads(out.read_text(encoding="utf-8")))
    else:
        tail = (stderr or b"").decode("utf-8", "replace")[-2000:]
        result = CrawlResult(source=source.id, crawl_id=crawl_id, errors={"crawler_crashed": 1},
                             health=[f"crawl process exited {returncode}: {tail}"])
    result.returncode = returncode
    result.log_file = str(data_dir.logs / f"{crawl_id}.log")
    return result


def peak_rss_kb() -> int:
    """This process's own peak RSS. ``getrusage`` is wrong here: Linux carries ru_maxrss
    across exec, so a crawl child reports its parent's peak at fork time (a test runner's
    580 MB, say); VmHWM belongs to the address space exec created."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _child(job_file: str) -> int:
    job = json.loads(Path(job_file).read_text(encoding="utf-8"))
    from narcwatch.crawler import netguard

    netguard.install()  # before Scrapy imports anything that could resolve a name
    # Scrapy's cookie middleware builds a tldextract extractor that, on a machine without its
    # cache, downloads the public suffix list from the internet (publicsuffix.org, GitHub)
    # outside Tor. An empty URL list makes it use the snapshot bundled with the package;
    # local files a user configured are kept.
    urls = [u for u in os.environ.get("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "").splitlines() if os.path.isfile(u.strip())]
    os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = "\n".join(urls)

    from scrapy.crawler import CrawlerProcess

    from narcwatch.crawler.settings import build_settings
    from narcwatch.spiders.registry import spider_for

    source = Source(**job["source"])
    config = Config(**job["config"])
    data_dir = DataDir.at(job["data_dir"])
    settings = build_settings(source, config, data_dir, job["crawl_id"], proxy_url=job["proxy_url"],
                              extra=job["extra_settings"])
    # Structured JSON lines (crawler.logs) instead of Scrapy's text handler: every line
    # carries this crawl's source and id, and secret values are redacted.
    from narcwatch.crawler import logs
    from narcwatch.crawler.secrets import Secrets

    try:
        secret_values = Secrets(config.secrets_file).all_values()
    except (OSError, ValueError) as exc:  # an unreadable secrets file must not stop redaction of the env ones
        secret_values = Secrets(None).all_values()
        print(f"secrets file not read: {exc}", file=sys.stderr)
    logs.set_process_context(source.id, job["crawl_id"])
    logs.configure(file=settings.get("LOG_FILE") or job["log_file"], level=settings.get("LOG_LEVEL", "INFO"),
                   secrets=secret_values, source=source.id, crawl_id=job["crawl_id"])
    process = CrawlerProcess(settings, install_root_handler=False)
    crawler = process.create_crawler(spider_for(source, config))
    process.crawl(crawler)
    process.start()
    stats = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in (crawler.stats.get_stats() or {}).items()}
    # Peak resident memory of this crawl process (KiB on Linux): the bounded-memory figure.
    stats["narcwatch/peak_rss_kb"] = peak_rss_kb()
    errors = {k.rsplit("/", 1)[1]: int(v) for k, v in stats.items() if k.startswith("narcwatch/errors/")}
    for k, v in stats.items():
        if k.startswith("narcwatch/leak_guard/refused/") and v:
            errors[f"leak_guard_{k.rsplit('/', 1)[1]}"] = int(v)
    ctx = crawler.__dict__.get("_narcwatch_context")
    result = CrawlResult(
        source=source.id, crawl_id=job["crawl_id"], complete=bool(stats.get("narcwatch/complete")),
        pages=int(stats.get("narcwatch/pages", 0)), items=int(ctx.items if ctx else 0), errors=errors,
        health=list(ctx.health) if ctx else [], full=bool(ctx.record.full) if ctx else True,
        finish_reason=str(stats.get("finish_reason", "")),
        stats={k: v for k, v in stats.items() if isinstance(v, (int, float, str, bool))},
    )
    Path(job["result"]).write_text(json.dumps(result.to_json()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1]))
