"""Pointing this process's Celery publishing at another broker, and brokers that fail."""

import socket
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager


def free_port() -> int:
    """A port nothing listens on (until something binds it)."""
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def reset_broker_connections(app) -> None:
    """Drop the app's cached broker connections, so the next publish uses broker_url anew.

    Celery caches a kombu connection pool (app.pool, made from broker_url on first use)
    and a producer pool over it (app.amqp.producer_pool); both keep the old URL otherwise.
    Both come from kombu's process-wide registry, which must be emptied too: a closed
    pool left there would be handed to the next test that publishes to the same URL.
    """
    from kombu import pools

    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def publishing_to(url: str):
    """This process's Celery app publishes to `url` until the block ends."""
    from loyaltysite.celery import app

    saved = app.conf.broker_url
    reset_broker_connections(app)
    app.conf.broker_url = url
    try:
        yield app
    finally:
        reset_broker_connections(app)
        app.conf.broker_url = saved


class HungServer:
    """A server that accepts connections and never answers: a hung Redis."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _address = self.listener.accept()
            except OSError:  # closed: the test is over
                return
            self.accepted.append(connection)

    def close(self) -> None:
        self.listener.close()
        for connection in self.accepted:
            connection.close()


@contextmanager
def hung_server() -> Iterator[HungServer]:
    server = HungServer()
    try:
        yield server
    finally:
        server.close()
