"""`python -m gitdeploy` = the `gitdeploy` command."""

from gitdeploy.cli import main

main()
