#!/usr/bin/env python3
"""The tester charm without acknowledgements: `LeaderConfig(..., acknowledge=False)`.

Every unit shows the shared config in its status (`<cluster-name>: log-level=<level>`)
and acknowledges nothing, as the tester charm did before acknowledgements: the job
of the hand-written baseline (`baseline.py`), against which the budget tests and
`tox -e bench` measure it.
"""

from __future__ import annotations

import ops

from charm import LeaderConfigTesterCharm


class NoAckTesterCharm(LeaderConfigTesterCharm):
    """The tester charm with `acknowledge=False`."""

    ACKNOWLEDGE = False


if __name__ == "__main__":  # pragma: nocover
    ops.main(NoAckTesterCharm)
