"""Plain git as the front door: server-side hooks on a bare spec repository, a client pre-commit
hook, and the demo that wires them up.

    git push ──pre-receive──> validate every new commit on an environment branch (reject with
                              file:line:column)
             ──post-receive─> deploy the new head: through the server's durable queue when a
                              server runs on the data directory, directly otherwise; the plan,
                              progress and outcome stream back as `remote:` lines
    git commit ──pre-commit─> validate the staged spec before the commit exists

The scripts in the top-level `hooks/` folder only `exec gitdeploy hook <name>`; everything
lives here, behind the same pipeline as the CLI and the webhook bot.
"""
