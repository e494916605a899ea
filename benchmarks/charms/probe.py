#!/usr/bin/env python3
"""The tester charm plus a `read-shared` action that calls `get()` `times` times.

The budget tests compare the hook tool calls of `times=1` and `times=3`: reading
the config again in the same hook must not call Juju again.
"""

from __future__ import annotations

import ops

from charm import LeaderConfigTesterCharm


class ReadProbeCharm(LeaderConfigTesterCharm):
    """The tester charm, with an action that reads the shared config repeatedly."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        framework.observe(self.on.read_shared_action, self._on_read_shared)

    def _on_read_shared(self, event: ops.ActionEvent):
        times = int(event.params["times"])
        seen = [self.shared.get() for _ in range(times)]
        event.set_results({"published": str(sum(cfg is not None for cfg in seen))})


if __name__ == "__main__":  # pragma: nocover
    ops.main(ReadProbeCharm)
