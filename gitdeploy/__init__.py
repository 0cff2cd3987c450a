"""gitdeploy: git-native deployments for Docker.

The pipeline, one way:  spec (git) -> live (engine) -> diff -> plan -> execute -> record.
"""

__version__ = "0.1.0"
