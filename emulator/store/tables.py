"""Every table, imported once so `create_all` sees them."""
from emulator.store.resources import ResourceRow  # noqa: F401
