"""The ``ogs`` command line.

Each command's implementation is imported only when that command runs, so ``ogs --help`` and
``ogs solve`` start quickly and do not pull in the web stack.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def _serve(args: argparse.Namespace) -> int:
    from order_generation.entrypoint import serve

    if args.no_workers:
        # Read by every process of the service (uvicorn's workers get their settings from it).
        os.environ["OGS_IN_PROCESS_WORKERS"] = "false"
    return serve(with_sandbox=args.sandbox, sandbox_data=args.sandbox_data, workers=args.workers)


def _worker(args: argparse.Namespace) -> int:
    from order_generation.entrypoint import run_worker

    return run_worker()


def _db_upgrade(args: argparse.Namespace) -> int:
    from order_generation.adapters.db.migrate import upgrade_database
    from order_generation.config import get_settings

    url = get_settings().database_url
    upgrade_database(url)
    print(f"database is at the latest schema: {url}")
    return 0


def _solve(args: argparse.Namespace) -> int:
    from order_generation.solve_command import run_solve

    return run_solve(args.file, args.processes)


def _sandbox_serve(args: argparse.Namespace) -> int:
    from order_generation.sandbox.server import serve_sandbox

    return serve_sandbox(
        data_path=args.data,
        host=args.host,
        port=args.port,
        random_prices=args.random_prices,
        generate=(args.portfolios, args.positions, args.seed),
    )


def _sandbox_generate(args: argparse.Namespace) -> int:
    from order_generation.sandbox.generate import write_data_file

    try:
        write_data_file(
            out=args.out,
            portfolios=args.portfolios,
            positions=args.positions,
            seed=args.seed,
            include_unpriced=args.include_unpriced,
        )
    except (ValueError, OSError) as error:
        print(f"ogs sandbox generate: {error}", file=sys.stderr)
        return 2
    print(
        f"wrote {args.out}: {args.portfolios} portfolios × {args.positions} holdings "
        f"(seed {args.seed})",
        file=sys.stderr,
    )
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ogs", description="GlobeCo Order Generation Service: models and rebalancing."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTP API (settings from OGS_* variables)")
    serve.add_argument(
        "--sandbox",
        action="store_true",
        help="also start the simulated GlobeCo services on generated data and wire the API to them",
    )
    serve.add_argument(
        "--sandbox-data", metavar="FILE", help="with --sandbox: serve this data file instead"
    )
    serve.add_argument(
        "--workers",
        type=_positive,
        metavar="N",
        help="worker processes behind the one port (default: OGS_WORKERS, 1)",
    )
    serve.add_argument(
        "--no-workers",
        action="store_true",
        help="PostgreSQL: this API takes no job chunks (run `ogs worker` for them); "
        "same as OGS_IN_PROCESS_WORKERS=false",
    )
    serve.set_defaults(func=_serve)

    worker = commands.add_parser(
        "worker",
        help="take rebalance job chunks only (PostgreSQL; settings from OGS_* variables)",
    )
    worker.set_defaults(func=_worker)

    db = commands.add_parser("db", help="database schema management")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    db_commands.add_parser("upgrade", help="apply all migrations to OGS_DATABASE_URL").set_defaults(
        func=_db_upgrade
    )

    solve = commands.add_parser(
        "solve",
        help="run the optimizer offline on JSON / JSON Lines problems",
        description="Read one rebalancing problem (JSON) or many (JSON Lines) from FILE or stdin "
        "and write one JSON result per problem, in the same order.",
    )
    solve.add_argument("file", nargs="?", default="-", help="input file; '-' or absent = stdin")
    solve.add_argument(
        "--processes",
        type=_positive,
        default=None,
        metavar="N",
        help="processes solving JSON Lines (default: one per CPU available)",
    )
    solve.set_defaults(func=_solve)

    sandbox = commands.add_parser("sandbox", help="simulated GlobeCo services for tests and demos")
    sandbox_commands = sandbox.add_subparsers(
        dest="sandbox_command", required=True, metavar="COMMAND"
    )
    sandbox_serve = sandbox_commands.add_parser(
        "serve", help="serve the simulated services from a data file"
    )
    sandbox_serve.add_argument(
        "--data", metavar="FILE", help="sandbox data file (default: generate the data)"
    )
    sandbox_serve.add_argument(
        "--portfolios", type=_positive, default=30, help="without --data: portfolios to generate"
    )
    sandbox_serve.add_argument(
        "--positions", type=_positive, default=20, help="without --data: holdings per portfolio"
    )
    sandbox_serve.add_argument("--seed", type=int, default=1, help="without --data: the seed")
    sandbox_serve.add_argument("--host", default="127.0.0.1")
    sandbox_serve.add_argument("--port", type=int, default=8099)
    sandbox_serve.add_argument(
        "--random-prices",
        action="store_true",
        help="draw each price from N(close, std) per request, as the real pricing service does",
    )
    sandbox_serve.set_defaults(func=_sandbox_serve)

    generate = sandbox_commands.add_parser(
        "generate", help="write a realistic sandbox data file from GlobeCo seed data"
    )
    generate.add_argument("--portfolios", type=int, default=100)
    generate.add_argument("--positions", type=int, default=25, help="holdings per portfolio")
    generate.add_argument("--seed", type=int, default=1)
    generate.add_argument("--out", required=True, metavar="FILE")
    generate.add_argument(
        "--include-unpriced",
        action="store_true",
        help="also list securities that have no price (the pricing service answers 404 for them)",
    )
    generate.set_defaults(func=_sandbox_generate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
