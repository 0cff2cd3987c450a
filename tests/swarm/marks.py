"""The marks every Swarm test module applies (`pytestmark = SWARM`)."""

import pytest

# one xdist worker builds the one cluster (setup.sh runs pytest with --dist loadgroup)
SWARM = [pytest.mark.docker, pytest.mark.xdist_group("swarm")]
