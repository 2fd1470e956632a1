"""`python -m bench [flags]` runs the sync benchmark; `python -m bench --catalog [flags]`
the live-size catalogue benchmark; `--scale` hundreds of accounts on one task cluster
(PostgreSQL and Redis); `--reports` the cost report at 1 M orders (PostgreSQL); `--load`
concurrent users on gunicorn (wrk). Each prepares its own database."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if argv[:1] == ["--catalog"]:
        from bench import catalog

        return catalog.main(argv[1:])
    if argv[:1] == ["--gateway"]:
        from bench import gateway

        return gateway.main(argv[1:])
    if argv[:1] == ["--scale"]:
        from bench import scale

        return scale.main(argv[1:])
    if argv[:1] == ["--reports"]:
        from bench import reports

        return reports.main(argv[1:])
    if argv[:1] == ["--load"]:
        from bench import load

        return load.main(argv[1:])
    if argv[:1] == ["--board"]:
        from bench import board

        return board.main(argv[1:])
    if argv[:1] == ["--push"]:
        from bench import push

        return push.main(argv[1:])
    from bench import sync

    return sync.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
