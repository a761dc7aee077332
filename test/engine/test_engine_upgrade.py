"""The h2c upgrade (RFC 7540 3.2): both engines set up stream 1 from HTTP/1.1."""

from __future__ import annotations

import pytest
from hyperframe.frame import GoAwayFrame
from support.frames import parse_frames

from hyper.http20.config import EngineConfig, SettingCodes
from hyper.http20.engine import Engine, StreamState
from hyper.http20.events import DataReceived, ResponseReceived
from hyper.http20.exceptions import LocalProtocolError, ProtocolError

RESPONSE = [(b":status", b"200"), (b"content-length", b"2")]


class TestUpgrade:
    def test_upgraded_request_is_answered_on_stream_1(self) -> None:
        client = Engine(EngineConfig(client_side=True, initial_window_size=70000))
        server = Engine(client_side=False)
        header = client.initiate_upgrade_connection()
        server.initiate_upgrade_connection(header)
        # The header carried the client's settings: the server applies them at once.
        assert server.remote_settings[SettingCodes.INITIAL_WINDOW_SIZE] == 70000
        assert client.stream_state(1) == StreamState.HALF_CLOSED_LOCAL
        assert server.stream_state(1) == StreamState.HALF_CLOSED_REMOTE
        server.send_headers(1, RESPONSE)
        server.send_data(1, b"ok", end_stream=True)
        server.receive_data(client.data_to_send())
        events = client.receive_data(server.data_to_send())
        assert ResponseReceived(1, RESPONSE, False) in events
        assert DataReceived(1, b"ok", 2, True) in events
        assert client.stream_state(1) == StreamState.CLOSED
        assert server.stream_state(1) == StreamState.CLOSED
        assert client.get_next_available_stream_id() == 3

    def test_client_header_is_unpadded_base64url_of_its_settings(self) -> None:
        header = Engine(client_side=True).initiate_upgrade_connection()
        assert b"=" not in header and b"+" not in header and b"/" not in header

    def test_server_without_the_header_is_a_usage_error(self) -> None:
        with pytest.raises(LocalProtocolError):
            Engine(client_side=False).initiate_upgrade_connection()

    @pytest.mark.parametrize("header", [b"AAMAAABk!", b"AAMAAAB"])
    def test_bad_settings_header_is_a_protocol_error(self, header: bytes) -> None:
        """Not base64url, or not a whole number of 6-byte settings."""
        server = Engine(client_side=False)
        with pytest.raises(ProtocolError):
            server.initiate_upgrade_connection(header)
        assert isinstance(parse_frames(server.data_to_send())[-1], GoAwayFrame)
