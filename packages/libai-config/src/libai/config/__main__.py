"""``python -m libai.config COMMAND``: the read-only commands, without OneFlow."""

from libai.config.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
