"""`python -m bench [flags]` runs the sync benchmark; `python -m bench --catalog [flags]`
the live-size catalogue benchmark. Each prepares its own throwaway database."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if argv[:1] == ["--catalog"]:
        from bench import catalog

        return catalog.main(argv[1:])
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
