"""The embedded MQTT broker (amqtt) for a station whose config names no broker.

It listens on localhost only and allows anonymous clients: it exists so the demo and a
development station need nothing installed. Production stations name a mosquitto broker.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from amqtt.broker import Broker

from station import sdnotify

log = logging.getLogger(__name__)


async def serve(host: str, port: int, stop: asyncio.Event) -> None:
    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
    )
    await broker.start()
    log.info("embedded MQTT broker listening on %s:%d", host, port)
    sdnotify.ready("embedded broker")
    await stop.wait()
    await broker.shutdown()


def run_broker(port: int, host: str = "127.0.0.1") -> int:
    """Serve until SIGTERM or SIGINT; exit status for the process."""
    # amqtt logs every connection at INFO; the station's log should show the station.
    for name in ("amqtt", "transitions"):
        logging.getLogger(name).setLevel(logging.WARNING)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await serve(host, port, stop)

    asyncio.run(main())
    return 0
