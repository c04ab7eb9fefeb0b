"""Entry point of the packaged app (``dist/ATC-Desktop/ATC-Desktop``).

``--self-test`` runs :mod:`selftest` (offscreen, exits 0 or 1 with the reason); every
other invocation is the desktop app, ``atc_desktop.app.main``, with the same options.

Before anything imports numba, ``NUMBA_CACHE_DIR`` is pointed at the user's cache folder
(the one ``--home`` or ``ATC_DESKTOP_HOME`` selects, as the app resolves it) unless the
user set it: the bundle may be read-only, and numba's machine code must outlive the run.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from typing import Sequence


def numba_cache_dir(argv: Sequence[str]) -> str:
    """The app's numba cache folder for these arguments (``--home`` wins, as in the app)."""
    from atc_desktop.paths import AppPaths

    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--home")
    known, _ = parser.parse_known_args(list(argv))
    return str(AppPaths.resolve(known.home).numba_cache)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("NUMBA_CACHE_DIR", numba_cache_dir(args))
    if "--self-test" in args:
        import selftest

        return selftest.main(args)
    from atc_desktop.app import main as app_main

    return app_main(args)


if __name__ == "__main__":
    # A frozen app re-executes itself for any multiprocessing child; this must come first.
    multiprocessing.freeze_support()
    sys.exit(main())
