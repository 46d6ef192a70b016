"""``cyclegan-dashboard``: a visdom server for ``cyclegan-train --display visdom``, offline-ready.

Binds to 127.0.0.1 unless ``--host`` says otherwise: a dashboard open to the network is the
user's explicit choice. Before starting it makes sure visdom's browser files are installed
(visdom's own download, else the same versions as npm packages), so plots render without
internet access.
"""
from __future__ import annotations

import errno
import sys
import warnings
from pathlib import Path

from ..errors import UserError
from .common import Parser, add_option, run_cli

PROG = "cyclegan-dashboard"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
INSTALL_HINT = ("install the dashboard extra from the cyclegan folder: PIP_CONSTRAINT=constraints/dashboard-build.txt "
                "pip install -e \".[dashboard]\" (visdom 0.2.4 does not build with setuptools >= 81)")


def build_parser() -> Parser:
    p = Parser(prog=PROG, description="Start a visdom server for the live training dashboard "
               "(open the printed address; train with --display visdom).")
    add_option(p, "--port", type=int, default=8097, help="port (default 8097, the trainer's --display_port)")
    add_option(p, "--host", default="127.0.0.1",
               help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens it to the network)")
    add_option(p, "--env_path", default=None,
               help="folder where visdom keeps its environments (default ~/.visdom)")
    add_option(p, "--setup-only", action="store_true",
               help="install the front-end files if missing, then exit without serving")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli(PROG, lambda: _run(args))


def _run(args) -> int:
    check_visdom()
    from ..report.frontend import ensure_frontend

    how = ensure_frontend(log=lambda message: print(f"{PROG}: {message}", file=sys.stderr, flush=True))
    if how != "present":
        print(f"{PROG}: front-end files installed ({how})", file=sys.stderr, flush=True)
    if args.setup_only:
        return 0
    if not 1 <= args.port <= 65535:
        raise UserError(f"--port {args.port}: choose a port between 1 and 65535")
    if args.host not in LOOPBACK:
        warnings.warn(f"--host {args.host}: the dashboard is reachable from other machines", stacklevel=1)
    serve(args.port, args.host, args.env_path)
    return 0


def check_visdom() -> None:
    try:
        import tornado
        import visdom  # noqa: F401
    except ImportError:
        raise UserError(f"visdom is not installed; install it with: {INSTALL_HINT}") from None
    if tuple(int(part) for part in tornado.version.split(".")[:2]) >= (6, 6):
        raise UserError(f"tornado {tornado.version} makes visdom's page answer 403; "
                        "install an older one: pip install \"tornado<6.6\"")


def serve(port: int, host: str, env_path: str | None) -> None:
    """Run visdom's server application on ``host:port`` until Ctrl-C."""
    import logging

    from tornado import ioloop
    from visdom.server.app import Application
    from visdom.server.defaults import DEFAULT_ENV_PATH

    env_dir = str(Path(env_path).expanduser()) + "/" if env_path else DEFAULT_ENV_PATH
    Path(env_dir).mkdir(parents=True, exist_ok=True)
    logging.getLogger().setLevel(logging.WARNING)  # visdom logs every request at INFO
    app = Application(port=port, base_url="", env_path=env_dir, readonly=False, user_credential=None,
                      use_frontend_client_polling=False, eager_data_loading=False)
    try:
        app.listen(port, address=host, max_buffer_size=1024 ** 3)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UserError(f"--port {port} is in use on {host}; choose another --port "
                            "(or open that address if a dashboard already runs there)") from None
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    shown = f"[{host}]" if ":" in host else host
    print(f"{PROG}: serving http://{shown}:{port} (environments in {env_dir}); Ctrl-C to stop", flush=True)
    try:
        ioloop.IOLoop.current().start()
    except KeyboardInterrupt:
        print(f"\n{PROG}: stopped", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
