"""Every table, imported once so `create_all` sees them."""
from emulator.store.resources import ResourceRow  # noqa: F401
from emulator.store.records import RecordRow  # noqa: F401
from emulator.store.async_queue import AsyncEvent, Delivery  # noqa: F401
from emulator.store.timers import TimerFiring  # noqa: F401
from emulator.store.replicas import InstanceSlot, ReplicaRow, Revision  # noqa: F401
from emulator.store.blobs import CodeBlob  # noqa: F401
