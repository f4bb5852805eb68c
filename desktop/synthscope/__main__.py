"""Entry point: headless sub-commands go to the CLI (no Qt imported), anything else opens the window."""
from __future__ import annotations

import os
import sys

HEADLESS_COMMANDS = {"trace", "engine", "models", "replay", "futures", "export"}
FILE_ONLY_COMMANDS = {"export"}  # read and write files only: llama.cpp's backends are not needed
SMOKE_TEST_FLAG = "--smoke-test"


def load_llama_backends() -> None:
    """Load llama.cpp's backends where they are plug-ins (GGML_BACKEND_DL, as in the bundle).

    Such a build keeps each CPU variant (x64, haswell, icelake, …) in a library of its own
    beside libllama, and llama.cpp registers none by itself: the best one for this CPU is loaded
    from that folder here, before anything asks llama.cpp about its devices. A build with its
    backends linked in (the usual `pip install`) already has them registered: nothing to do.
    """
    import ctypes
    from pathlib import Path

    import llama_cpp

    from synthscope.engine import llama_log
    from synthscope.engine.machine import ggml_library_names

    folder = Path(getattr(llama_cpp.llama_cpp._lib, "_name", "") or "").parent
    # The very file libllama loaded: the wheel's libggml.so is a copy of it, not a link, and
    # opening the copy would load a second libggml with a registry of its own.
    library = next((folder / name for name in ggml_library_names() if (folder / name).is_file()), None)
    if library is None:
        return
    ggml = ctypes.CDLL(str(library))
    if not hasattr(ggml, "ggml_backend_reg_count"):  # an older layout: no registry to fill
        return
    ggml.ggml_backend_reg_count.restype = ctypes.c_size_t
    if ggml.ggml_backend_reg_count() == 0:
        llama_log.install()  # llama.cpp's "loaded CPU backend from …" goes to the log, not stderr
        ggml.ggml_backend_load_all_from_path.argtypes = [ctypes.c_char_p]
        ggml.ggml_backend_load_all_from_path(os.fsencode(folder))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] and args[0] in {"-h", "--help", "--version", *FILE_ONLY_COMMANDS}:
        from synthscope.cli.main import main as cli_main
        return cli_main(args)
    load_llama_backends()
    if args[:1] == ["--probe-model"] and 2 <= len(args) <= 5:
        from synthscope.engine.probe import child_main
        return child_main(*args[1:])
    if args == ["--check-grammar"]:  # a grammar is parsed in a child first: llama.cpp can crash on one
        from synthscope.engine.grammar import child_main as grammar_child
        return grammar_child()
    if args[:1] and args[0] in HEADLESS_COMMANDS:
        from synthscope.cli.main import main as cli_main
        return cli_main(args)
    if args == [SMOKE_TEST_FLAG]:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt is imported
        from synthscope.ui.smoke import run_smoke_test
        return run_smoke_test()
    from synthscope.ui.app import run_app
    return run_app(args)


if __name__ == "__main__":
    sys.exit(main())
