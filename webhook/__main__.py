"""`python -m webhook --config FILE [--handlers module:NAME]`.

--handlers names the job-handler registry: a mapping {kind: Callable[[Job], str]}, or a
callable(config) returning one. The default is the real bot (`gitdeploy.github.bot:handlers_for`,
what `gitdeploy serve` runs, without the drift watchers); tests pass small registries such as
`tests.server.handlers:REGISTRY`.
"""

from __future__ import annotations

import argparse
import logging
import sys

from gitdeploy.errors import GitdeployError
from gitdeploy.server.config import load_config
from webhook.serve import load_handlers, serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m webhook", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="the server's YAML configuration file")
    parser.add_argument("--handlers", default="gitdeploy.github.bot:handlers_for",
                        help="job-handler registry as module:NAME (default: the GitHub bot)")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args.config)
        handlers = load_handlers(args.handlers, config)
        bot = getattr(handlers, "bot", None)
        if bot is not None:  # the real bot deploys: finish what a dead predecessor left first
            from gitdeploy.server.recovery import recover_environments
            recover_environments(config, bot.context)
        serve(config, handlers)
    except GitdeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
