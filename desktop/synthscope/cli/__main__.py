"""`python -m synthscope.cli ARGS`: the headless commands alone (never opens a window)."""
import sys

from synthscope.cli.main import main

sys.exit(main())
