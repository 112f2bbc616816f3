#!/usr/bin/env python3
"""Render envs/<env>.yaml into modules/<env>/: the script form of :mod:`hclforge.render`.

    python render.py dev            # write modules/dev/
    python render.py --all --check  # exit 1 with a unified diff when modules/ is stale

The code lives in the installed package (``hclforge.render``); this file keeps the
project's top-level layout and works from a clone without installing anything else.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hclforge.render import main

if __name__ == "__main__":
    sys.exit(main())
