"""ChirpSyncer's own task functions: the demo's sync stand-in.

Registered without a default task: `seeddemo` creates the demo task.
"""

from chirpsyncer.demo import simulate_sync
from scheduling.registry import scheduled_task

scheduled_task(
    name="simulate_sync",
    schedule=None,
    description="Demo only: records a few sync runs, as ChirpSyncer's sync loop would.",
)(simulate_sync)
