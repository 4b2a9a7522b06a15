"""``serve`` and ``users``: the dashboard and HTTP API, and their accounts."""

from __future__ import annotations

import getpass
import ipaddress
import logging
import socket
import sys
from collections.abc import Callable
from typing import Annotated, Optional

import typer

from narcwatch.cli._common import console, err_console, fail, state
from narcwatch.crawler.config import Config
from narcwatch.crawler.paths import DataDir

LOOPBACK = "127.0.0.1"
log = logging.getLogger("narcwatch.serve")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        fail(f"cannot listen on {host}:{port}: {exc.strerror}")
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _announce_json(url: str, data: DataDir) -> None:
    """The "listening on" line as a JSON log line on stdout (``serve`` writes nothing else)."""
    from narcwatch.crawler.logs import JsonFormatter

    record = logging.LogRecord("narcwatch.serve", logging.INFO, __file__, 0, "narcwatch dashboard on %s (data: %s)",
                               (url, data.root), None)
    record.url = url
    sys.stdout.write(JsonFormatter().format(record) + "\n")


def run_dashboard(cfg: Config, data: DataDir, host: str = LOOPBACK, port: int = 8765,
                  on_ready: Callable[[str], None] | None = None, json_logs: bool = False) -> None:
    """Serve the dashboard and API on ``host:port`` until interrupted (used by serve and demo --serve).

    ``json_logs``: the caller configured JSON logging (``crawler.logs.configure``); uvicorn's
    own lines (access and errors) then go through it too, and stdout gets one JSON line."""
    import uvicorn

    from narcwatch.dashboards.app import create_app
    from narcwatch.dashboards.assets import MissingAssets
    from narcwatch.index import open_store

    try:
        store = open_store(cfg.store, data)
    except ValueError as exc:
        fail(str(exc))
    try:
        web = create_app(store, data, cfg)
    except MissingAssets as exc:
        store.close()
        fail(str(exc))
    warm = getattr(store, "warm_in_background", None)  # SQLite: filters and facets from columns
    if warm is not None:
        warm()
    say: Callable[[str], None] = log.warning if json_logs else (lambda m: err_console.print(m, highlight=False))
    if not web.state.ctx.accounts.has_users():
        say("no users yet: create the first admin with `narcwatch users add NAME --role admin`")
    if not _is_loopback(host):
        say(f"listening on {host}: the dashboard is reachable from other machines; put it behind TLS")
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{bound}/"
    if json_logs:
        _announce_json(url, data)
    else:
        console.print(f"narcwatch dashboard on {url} (data: {data.root})", highlight=False)
    if on_ready:
        on_ready(url)
    sys.stdout.flush()
    if json_logs:
        from narcwatch.dashboards import weblog

        config = uvicorn.Config(web, log_config=None, log_level=None, server_header=False, proxy_headers=False,
                                access_log=True)
        weblog.install(access_log=True)
    else:
        config = uvicorn.Config(web, log_level="warning", server_header=False, proxy_headers=False, access_log=False)
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        store.close()


def register(app: typer.Typer) -> None:
    @app.command(help="Serve the dashboard and HTTP API (127.0.0.1 unless configured otherwise).")
    def serve(
        ctx: typer.Context,
        host: Annotated[str, typer.Option("--host", envvar="NARCWATCH_DASHBOARD_HOST",
                                          help="Address to listen on; anything but loopback exposes the dashboard.")] = LOOPBACK,
        port: Annotated[int, typer.Option("--port", envvar="NARCWATCH_DASHBOARD_PORT", min=0, max=65535,
                                          help="Port (0 picks a free one and prints it).")] = 8765,
    ) -> None:
        from narcwatch.crawler import logs
        from narcwatch.crawler.secrets import Secrets

        st = state(ctx)
        try:
            secret_values = Secrets(st.config.secrets_file).all_values()
        except (OSError, ValueError) as exc:
            fail(f"cannot read the secrets file: {exc}")
        logs.configure(file=st.data.logs / "serve.log", stream=sys.stderr, level="INFO", secrets=secret_values)
        run_dashboard(st.config, st.data, host, port, json_logs=True)

    users = typer.Typer(help="Manage dashboard users and API tokens.", no_args_is_help=True)

    @users.command("add", help="Create a user (the first one should be an admin).")
    def users_add(
        ctx: typer.Context,
        name: str,
        role: Annotated[str, typer.Option("--role", help="analyst (search, view, acknowledge) or admin.")] = "analyst",
        password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input.")] = False,
    ) -> None:
        from narcwatch.dashboards.audit import AuditLog
        from narcwatch.dashboards.auth import Accounts, AuthError

        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        root = state(ctx).data.root
        accounts = Accounts(root)
        try:
            user = accounts.add_user(name, role, password)
        except AuthError as exc:
            fail(str(exc))
        finally:
            accounts.close()
        audit = AuditLog(root / "audit.sqlite")
        audit.record(f"cli:{getpass.getuser()}", "user_add", user.name, role=user.role.value)
        audit.close()
        console.print(f"created {user.role.value} {user.name}", highlight=False)

    @users.command("list", help="List users and their roles.")
    def users_list(ctx: typer.Context) -> None:
        from narcwatch.dashboards.auth import Accounts

        accounts = Accounts(state(ctx).data.root)
        try:
            for user, disabled in accounts.users():
                typer.echo(f"{user.name}\t{user.role.value}\t{'disabled' if disabled else 'active'}")
        finally:
            accounts.close()

    @users.command("token", help="Create an API token for a user (printed once).")
    def users_token(ctx: typer.Context, name: str,
                    label: Annotated[Optional[str], typer.Option("--label", help="What the token is for.")] = None) -> None:
        from narcwatch.dashboards.auth import Accounts, AuthError

        accounts = Accounts(state(ctx).data.root)
        try:
            token = accounts.create_token(name, label or "")
        except AuthError as exc:
            fail(str(exc))
        finally:
            accounts.close()
        typer.echo(token)

    @users.command("unlock", help="Lift a failed-login lock on a user name, or on a client address with --address.")
    def users_unlock(ctx: typer.Context, subject: str,
                     address: Annotated[bool, typer.Option("--address", help="SUBJECT is a client address.")] = False,
                     ) -> None:
        from narcwatch.dashboards.audit import AuditLog
        from narcwatch.dashboards.throttle import LoginThrottle, Scope

        root = state(ctx).data.root
        throttle = LoginThrottle(root / "dashboard.sqlite")
        try:
            lifted = throttle.unlock(Scope.ADDRESS if address else Scope.USER, subject)
        finally:
            throttle.close()
        audit = AuditLog(root / "audit.sqlite")
        audit.record(f"cli:{getpass.getuser()}", "unlock", subject, scope="address" if address else "user",
                     lifted=lifted)
        audit.close()
        typer.echo(f"{'unlocked' if lifted else 'no lock on'} {subject}")

    app.add_typer(users, name="users", help="Manage dashboard users and API tokens.")
