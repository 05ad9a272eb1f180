"""kombu's filesystem transport with atomic message writes, for the embedded broker.

kombu's own ``_put`` creates the message file and then writes it, so a consumer
polling the folder can pick up an empty file in between and crash on
``JSONDecodeError`` (seen here under beat's steady traffic). Here a message is
written under a temporary name and renamed into place, which is atomic on POSIX.
Registered as the ``meshmillfs://`` broker URL scheme in ``celeryconfig``.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Write the message to a temporary file, then rename it into the queue."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        temp = os.path.join(self.data_folder_out, f".tmp-{uuid.uuid4().hex}")
        try:
            with open(temp, "wb") as fh:
                fh.write(str_to_bytes(dumps(payload)))
            os.replace(temp, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
