"""``python -m omni_magic.doctor [--model M] [--region R] [--base-url URL] [--skip-speech]
[--skip-thinking] [--report FILE]``: exit code 0 when every check passed."""

from __future__ import annotations

from .run import main

if __name__ == "__main__":  # importing the module (a walk over the package) runs nothing
    raise SystemExit(main())
