"""A module no test imports: a task naming it must fail without importing it.

Importing it would be visible in `sys.modules`; calling `touch` would leave a file.
"""

from scheduling.tests.stored import NOT_REGISTERED_MARKER as MARKER


def touch(**kwargs):
    MARKER.write_text("this function ran")
    return {"ran": True}
