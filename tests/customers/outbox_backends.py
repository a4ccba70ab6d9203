"""A notification backend for tests that run a real worker process: it records each delivery as a
line in a file (durable across a killed process) and can be told to hang on one recipient.

The worker reads its instructions from the environment the test starts it with:
- GRIDCOLLECT_TEST_DELIVERY_LOG   file to append "<notification id> <recipient> <pid>" to
- GRIDCOLLECT_TEST_HANG_ON        a recipient: record its delivery, then hang (the provider has
                                   the message, the worker never stores the answer)
- GRIDCOLLECT_TEST_SEND_DELAY     seconds each send takes (so that two drains overlap)
"""

import os
import time
from pathlib import Path

from customers.notifications import NotificationBackend


class FileRecordingBackend(NotificationBackend):
    def send(self, notification) -> str:
        log = Path(os.environ["GRIDCOLLECT_TEST_DELIVERY_LOG"])
        time.sleep(float(os.environ.get("GRIDCOLLECT_TEST_SEND_DELAY", "0")))
        with log.open("a") as file:
            file.write(f"{notification.pk} {notification.recipient} {os.getpid()}\n")
            file.flush()
            os.fsync(file.fileno())
        if notification.recipient == os.environ.get("GRIDCOLLECT_TEST_HANG_ON"):
            log.with_suffix(".hanging").write_text(str(notification.pk))
            time.sleep(300)  # until the test kills the worker
        return f"file-{notification.pk}"


def deliveries(log: Path) -> list[int]:
    """The notification ids in the order the backend delivered them (one per delivery)."""
    if not log.exists():
        return []
    return [int(line.split()[0]) for line in log.read_text().splitlines() if line.strip()]
