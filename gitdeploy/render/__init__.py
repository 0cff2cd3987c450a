"""Every piece of wording, as pure functions from values to text (golden-tested in tests/render/).

- plan.py: a plan as terminal text (Rich markup), Markdown and JSON (`gitdeploy.plan/v1`);
- result.py: a deploy result, the same three ways (`gitdeploy.result/v1`);
- drift.py: a drift check for the terminal, the drift issue on GitHub;
- comments.py: the bot's pull request comments and command replies;
- lines.py: plain lines for a pusher's terminal, a job's log and the healer;
- history.py: the rows and JSON of `gitdeploy history`;
- status.py: what runs now, per service (`gitdeploy status`, the dashboard);
- markdown.py: long Markdown cut into comment-sized parts that each render alone.

Nothing here reads the engine, git or the network; clock times are rendered in the local zone.
"""
