"""The real `git-deploy` handler, plus a full disk at the moment it finishes.

Loadable as `tests.hooks.fillhandlers:handlers_for` by `python -m webhook`: the job
deploys for real; the instant the handler returns, every free block of the data directory's file
system (a small tmpfs in the test) is taken, so the queue has to finish the job on a full disk.
"""

from __future__ import annotations

from tests.fullfs import SmallFS


def handlers_for(config):
    from gitdeploy.hooks import jobs

    real = jobs.handle(config.data_dir)

    def run(job):
        try:
            return real(job)
        finally:
            SmallFS(config.data_dir).fill()

    return {jobs.KIND: run}
