"""The `process-engine` command (CONTRACT §1): run, validate, serve, wsdl, hash-password, db upgrade.

`run` and `validate` work on a definition file in an embedded engine with a throw-away SQLite
database, so they never touch a service's data. Exit status of `run`: 0 FINISHED, 1 FAILED or
TERMINATED, 2 bad input, 3 the process stopped where only a caller could continue it (a wait without
a timer, or a breakpoint).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from lxml import etree

from config.settings import Settings, SettingsError, load_settings
from engine import operations as ops
from engine.model.datastore import DataStore, make_value
from engine.errors import EngineError, InvalidParameter
from engine.model.results import Snapshot
from engine.runtime.node import ProcessEngine
from engine.security.authorization import ANONYMOUS_ADMIN
from engine.model.states import END_STATES, ExecutionState
from schemas import datastore, snapshot as render

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_STOPPED = 0, 1, 2, 3


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        settings = load_settings(files=[args.config] if args.config else ())
        return args.handler(args, settings)
    except SettingsError as exc:
        print(f"process-engine: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="process-engine", description="An open process engine service.")
    parser.add_argument("--config", help="a TOML settings file laid over the defaults")
    commands = parser.add_subparsers(dest="command")

    run = commands.add_parser("run", help="run a definition file and print its end snapshot")
    run.add_argument("file", type=Path)
    run.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                     help="a text parameter; repeat a name for a list")
    run.add_argument("--params-file", type=Path, metavar="STORE", help="a data store in any of the four forms")
    run.add_argument("--datastore-mode", choices=("simple", "standard"), default="simple")
    run.add_argument("--format", choices=("json", "xml"), default="json")
    run.set_defaults(handler=_run)

    validate = commands.add_parser("validate", help="validate a definition file")
    validate.add_argument("file", type=Path)
    validate.add_argument("--format", choices=("json", "xml"), default="json")
    validate.set_defaults(handler=_validate)

    serve = commands.add_parser("serve", help="run the service under gunicorn")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--insecure", action="store_true", help="allow a non-loopback bind without users")
    serve.set_defaults(handler=_serve)

    wsdl = commands.add_parser("wsdl", help="print the WSDL of the SOAP door (soap:address from server.public_url)")
    wsdl.set_defaults(handler=_wsdl)

    hashing = commands.add_parser("hash-password", help="read a password on standard input, print its hash")
    hashing.set_defaults(handler=_hash_password)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply every pending migration").set_defaults(handler=_db_upgrade)
    return parser


# -- run and validate ----------------------------------------------------------------------------------
def _run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        params = _params(args.params_file, args.param)
        with _embedded(settings, args.file) as pe:
            snapshot = ops.run(pe, ANONYMOUS_ADMIN, args.file.name, process_params=params, timeout=-1,
                               states=[s.value for s in END_STATES] + ["WAITING", "PAUSED"], peek=True)
            snapshot = _settle(pe, snapshot)
            _print_log(pe, snapshot.execution_id)
    except EngineError as exc:
        print(f"process-engine: {exc.type}: {exc.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    _print_snapshot(snapshot, args.format, args.datastore_mode == "simple")
    if snapshot.state is ExecutionState.FINISHED:
        return EXIT_OK
    return EXIT_FAILED if snapshot.state.ended else EXIT_STOPPED


def _settle(pe: ProcessEngine, snapshot: Snapshot) -> Snapshot:
    """Wait through timers: return once the process ended or waits for someone to continue it."""
    while snapshot.state is ExecutionState.WAITING:
        if ops.waits_for_signal(pe, ANONYMOUS_ADMIN, snapshot.execution_id):
            break  # else it waits for a child or a timer, or has just stopped waiting, and runs on
        snapshot = ops.wait_for_process(pe, ANONYMOUS_ADMIN, snapshot.execution_id, peek=True,
                                        state_change_index=snapshot.state_change_index,
                                        states=[s.value for s in END_STATES] + ["WAITING", "PAUSED"])
    return snapshot


def _validate(args: argparse.Namespace, settings: Settings) -> int:

    try:
        source = _read(args.file)
        with _embedded(settings, args.file, start=False) as pe:
            result = ops.validate(pe, ANONYMOUS_ADMIN, args.file.name, process=source)
    except EngineError as exc:
        print(f"process-engine: {exc.type}: {exc.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.format == "xml":
        print(etree.tostring(render.dump_validation_xml(result), pretty_print=True, encoding="unicode"), end="")
    else:
        print(json.dumps(render.dump_validation_json(result), indent=2, ensure_ascii=False))
    return EXIT_OK


class _embedded:
    """An engine over a temporary SQLite database, with the definition's folder as repository."""

    def __init__(self, settings: Settings, file: Path, start: bool = True) -> None:
        self._temp = tempfile.TemporaryDirectory(prefix="process-engine-")
        self._settings = settings.with_overrides(
            storage={"url": f"sqlite:///{Path(self._temp.name) / 'run.db'}"},
            repository={"path": str(file.resolve().parent)},
            engine={"node_id": "cli", "startup_delay_ms": 0}, services=())
        self._start = start

    def __enter__(self) -> ProcessEngine:
        self.pe = ops.new_engine(self._settings)
        if self._start:
            self.pe.start()
        return self.pe

    def __exit__(self, *exc: object) -> None:
        if self._start:
            self.pe.stop()
        self._temp.cleanup()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:

        raise InvalidParameter(str(path), exc.strerror or "cannot be read") from None


def _params(params_file: Path | None, pairs: list[str]) -> DataStore:
    """The data store of `--params-file`, then each `--param NAME=VALUE` (a repeated name is a list)."""

    store_ = datastore.load(_read(params_file)) if params_file else DataStore()
    given: dict[str, list[str]] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise InvalidParameter("--param", f"{pair!r} is not NAME=VALUE")
        given.setdefault(name, []).append(value)
    for name, values in given.items():
        store_.set(name, [make_value(str(i), "text/plain", v) for i, v in enumerate(values, 1)])
    return store_


def _print_snapshot(snapshot: Snapshot, form: str, simple: bool) -> None:
    if form == "xml":
        print(etree.tostring(render.dump_xml(snapshot, simple), pretty_print=True, encoding="unicode"), end="")
    else:
        print(json.dumps(render.dump_json(snapshot, simple), indent=2, ensure_ascii=False))


def _print_log(pe: ProcessEngine, execution_id: str) -> None:
    for line in ops.get_process_log(pe, ANONYMOUS_ADMIN, execution_id):
        element = f" {line.element_id}" if line.element_id else ""
        print(f"[{line.level}]{element}: {line.message}", file=sys.stderr)


# -- serve and db ----------------------------------------------------------------------------------------
def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from config.serve import serve

    return serve(settings, host=args.host, port=args.port, insecure=args.insecure, config_file=args.config)


def _wsdl(args: argparse.Namespace, settings: Settings) -> int:
    """The WSDL as the service publishes it; `make wsdl` writes it to wsdl/ with the default settings."""
    from soap import build_wsdl

    sys.stdout.buffer.write(build_wsdl(settings))
    sys.stdout.flush()
    return EXIT_OK


def _hash_password(args: argparse.Namespace, settings: Settings) -> int:
    """The argon2id hash for `[[auth.users]] password_hash`; the password is never echoed or stored."""
    import getpass

    from engine.security.authentication import hash_password

    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("process-engine: the password is empty", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(hash_password(password))
    return EXIT_OK


def _db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    ops.upgrade_database(settings.storage.url, settings.storage.sqlite_synchronous)
    print(f"database at {settings.storage.url} is up to date")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
