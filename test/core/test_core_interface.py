"""
The interface a driver drives (hyper.core.interface), from bytes: a client
core and a server core back to back, and the one role-neutral predicate the
asyncio driver reads to wake coroutines waiting for a new stream
(``has_incoming``).
"""

from __future__ import annotations

from hyper.core.client_side import ClientSide
from hyper.core.server import ServerCore, ServerLimits

REQUEST = [(":method", "GET"), (":scheme", "https"), (":authority", "a.test"), (":path", "/")]


def now() -> float:
    return 0.0


def pair(enable_push: bool = False) -> tuple[ClientSide, ServerCore]:
    """A started client and server, SETTINGS exchanged both ways."""
    client = ClientSide(8, now, enable_push=enable_push)
    server = ServerCore(8, ServerLimits(), now)
    client.start()
    server.start()
    shuttle(client, server)
    return client, server


def shuttle(client: ClientSide, server: ServerCore) -> None:
    """Move bytes both ways until neither side has more to say."""
    while True:
        to_server, to_client = client.data_to_send(), server.data_to_send()
        if not to_server and not to_client:
            return
        if to_server:
            server.receive_data(to_server)
        if to_client:
            client.receive_data(to_client)


class TestHasIncoming:
    def test_a_request_is_incoming_until_the_application_takes_it(self) -> None:
        client, server = pair()
        assert not server.has_incoming
        client.open_stream(REQUEST, True)
        shuttle(client, server)
        assert server.has_incoming
        assert server.next_request() is not None
        assert not server.has_incoming

    def test_a_push_is_never_incoming_for_the_client(self) -> None:
        """A promise is filed on the stream it answers, where its waiter is."""
        client, server = pair(enable_push=True)
        opened = client.open_stream(REQUEST, True)
        assert opened is not None
        shuttle(client, server)
        request = server.next_request()
        assert request is not None
        server.push(request, [*REQUEST[:3], (":path", "/style.css")])
        shuttle(client, server)
        assert len(opened[0].pushes) == 1
        assert not client.has_incoming
