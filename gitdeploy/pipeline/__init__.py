"""The one pipeline every entry point (CLI, webhook bot, git hooks) goes through:

    spec (git) -> resolve -> live (engine) -> diff -> plan -> execute -> verify -> record

Functions here wire the pure core to its edges (git, Docker, the data directory); they hold no
decisions of their own.

Truth under interruption: a deploy writes its intent to a journal before it touches the engine
and its progress as it goes (gitdeploy.deploy.journal). Whoever next takes the environment's
lock and finds a journal left behind recovers first: back to the last verified revision
(refs/gitdeploy/<env>), verified, and the attempt recorded as `interrupted`. A failed deploy
rolls back to the same place - the last verified revision, never "whatever ran before".

Modules: context (Context) -> transaction (prepare, execute, rollback) -> record (history)
-> recovery (the journal) -> run (deploy, halt, down).
"""

from gitdeploy.history.notes import open_repo
from gitdeploy.pipeline.context import DEFAULT_ENV, Context, Prepared, default_data_dir, load
from gitdeploy.pipeline.recovery import Recovery, recover
from gitdeploy.pipeline.run import DownResult, deploy, down, halt
from gitdeploy.pipeline.transaction import check_verified, execute, prepare, rollback, verify_target

__all__ = ["Context", "DEFAULT_ENV", "DownResult", "Prepared", "Recovery", "check_verified", "default_data_dir", "deploy", "down", "execute", "halt", "load", "open_repo", "prepare", "recover", "rollback", "verify_target"]
