"""
The engine's configuration: one validated object instead of a pile of
keyword arguments. Every limit has a default that a well-behaved peer never
reaches and a user can raise; the comments say where each number comes from.
"""

from __future__ import annotations

from collections.abc import Callable

from hyper.common.exceptions import InvalidArgumentError, InvalidArgumentTypeError
from hyper.engine.exceptions import LocalProtocolError
from hyper.engine.window import BaseFlowControlManager, FlowControlManager

MAX_WINDOW = 2**31 - 1
MIN_FRAME_SIZE = 2**14
#: What a client advertises as its SETTINGS_MAX_FRAME_SIZE by default.
CLIENT_MAX_FRAME_SIZE = 2**16
MAX_FRAME_SIZE = 2**24 - 1


class EngineConfig:
    """
    Settings and limits for one :class:`hyper.engine.engine.Engine`.

    :param client_side: True for a client, False for a server.
    :param window_manager: the :class:`BaseFlowControlManager` *class* that
        decides when to give receive window back.
    :param clock: a monotonic clock (seconds) for the flood budgets; without
        one the budgets never refill. Front-ends pass ``time.monotonic``.
    """

    def __init__(
        self,
        client_side: bool = True,
        *,
        window_manager: type[BaseFlowControlManager] = FlowControlManager,
        clock: Callable[[], float] | None = None,
        # What we advertise (RFC 9113 6.5.2). Large windows by default: the
        # stream window bounds memory per unread stream, the connection
        # window is given back as data arrives.
        initial_window_size: int = 1 << 20,
        connection_window_size: int = 16 << 20,
        # None: 64 KiB for a client (a server that honours it sends a
        # quarter of the DATA frames, each costing Python work), the 16 KiB
        # minimum for a server. Larger frames make other streams' frames
        # wait longer behind one, hence not more.
        max_frame_size: int | None = None,
        header_table_size: int = 4096,
        max_concurrent_streams: int = 100,
        enable_push: bool = False,
        # hpack's own default; CVE-2016-6581 (HPACK bomb) is why it is enforced.
        max_header_list_size: int = 65536,
        # Compressed bytes per header block, checked before decoding (hpack
        # checks the decoded size only after each field). 2x the list cap.
        max_header_block_size: int = 131072,
        # CONTINUATION flood (CVE-2024-27316 and friends): nghttp2 allows 8,
        # python h2 64. 16 fits a 64 KiB block in default-size frames.
        max_continuation_frames: int = 16,
        # The peer may advertise up to 2**32-1 for our encoder's table (A14).
        max_encoder_table_size: int = 65536,
        # Queued but undrained PING/SETTINGS ACKs and RST_STREAMs (nghttp2: 1000).
        max_outbound_control_frames: int = 1000,
        # SETTINGS entries per frame (nghttp2: 32; quart #28 was a 14 KB one).
        max_settings_entries: int = 32,
        # Received RST_STREAM budget (nghttp2 >= 1.57: burst 1000, 33/s).
        reset_burst: int = 1000,
        reset_rate: float = 33.0,
        # PING and SETTINGS frames received (well-behaved peers send a few).
        control_burst: int = 1000,
        control_rate: float = 100.0,
        # "Glitches": empty non-final frames, idle-stream PRIORITY, frames on
        # closed streams and every stream error we raise (MadeYouReset,
        # CVE-2025-8671). nghttp2 2025: burst 10000, 330/s; we are stricter.
        glitch_burst: int = 1000,
        glitch_rate: float = 330.0,
        # Remembered closed/reset stream ids (h2: 2**16).
        max_closed_streams: int = 65536,
        # Promised-but-unanswered pushes a client accepts (nghttp2: 200).
        max_reserved_streams: int = 200,
        # Seconds the peer has to ACK our SETTINGS (6.5.3); needs ``clock``.
        settings_timeout: float | None = 10.0,
    ) -> None:
        if max_frame_size is None:
            max_frame_size = CLIENT_MAX_FRAME_SIZE if client_side else MIN_FRAME_SIZE
        if not issubclass(window_manager, BaseFlowControlManager):
            raise InvalidArgumentTypeError(
                "window_manager must be a BaseFlowControlManager subclass"
            )
        for name, value, low, high in (
            ("initial_window_size", initial_window_size, 0, MAX_WINDOW),
            ("connection_window_size", connection_window_size, 65535, MAX_WINDOW),
            ("max_frame_size", max_frame_size, MIN_FRAME_SIZE, MAX_FRAME_SIZE),
            ("header_table_size", header_table_size, 0, 2**32 - 1),
            ("max_concurrent_streams", max_concurrent_streams, 0, 2**32 - 1),
            ("max_header_list_size", max_header_list_size, 1, 2**32 - 1),
            ("max_header_block_size", max_header_block_size, 1, 2**32 - 1),
            ("max_continuation_frames", max_continuation_frames, 0, 2**32 - 1),
            ("max_encoder_table_size", max_encoder_table_size, 0, 2**32 - 1),
            ("max_outbound_control_frames", max_outbound_control_frames, 1, 2**32 - 1),
            ("max_settings_entries", max_settings_entries, 6, 2**32 - 1),
            ("max_closed_streams", max_closed_streams, 1, 2**32 - 1),
            ("max_reserved_streams", max_reserved_streams, 0, 2**32 - 1),
        ):
            if not isinstance(value, int) or not low <= value <= high:
                raise InvalidArgumentError(
                    f"{name} must be an int in [{low}, {high}], got {value!r}"
                )
        self.client_side = client_side
        self.window_manager = window_manager
        self.clock = clock
        self.initial_window_size = initial_window_size
        self.connection_window_size = connection_window_size
        self.max_frame_size: int = max_frame_size
        self.header_table_size = header_table_size
        self.max_concurrent_streams = max_concurrent_streams
        self.enable_push = enable_push
        self.max_header_list_size = max_header_list_size
        self.max_header_block_size = max_header_block_size
        self.max_continuation_frames = max_continuation_frames
        self.max_encoder_table_size = max_encoder_table_size
        self.max_outbound_control_frames = max_outbound_control_frames
        self.max_settings_entries = max_settings_entries
        self.reset_burst = reset_burst
        self.reset_rate = reset_rate
        self.control_burst = control_burst
        self.control_rate = control_rate
        self.glitch_burst = glitch_burst
        self.glitch_rate = glitch_rate
        self.max_closed_streams = max_closed_streams
        self.max_reserved_streams = max_reserved_streams
        if settings_timeout is not None and not settings_timeout > 0:
            raise InvalidArgumentError(
                f"settings_timeout must be > 0 or None, got {settings_timeout!r}"
            )
        self.settings_timeout = settings_timeout


class SettingCodes:
    """SETTINGS parameter ids (RFC 9113 section 6.5.2, RFC 8441)."""

    HEADER_TABLE_SIZE = 0x1
    ENABLE_PUSH = 0x2
    MAX_CONCURRENT_STREAMS = 0x3
    INITIAL_WINDOW_SIZE = 0x4
    MAX_FRAME_SIZE = 0x5
    MAX_HEADER_LIST_SIZE = 0x6
    ENABLE_CONNECT_PROTOCOL = 0x8


# Values in force before any SETTINGS frame is exchanged (RFC 9113 6.5.2).
DEFAULT_SETTINGS: dict[int, int] = {
    SettingCodes.HEADER_TABLE_SIZE: 4096,
    SettingCodes.ENABLE_PUSH: 1,
    SettingCodes.MAX_CONCURRENT_STREAMS: 2**32 - 1,
    SettingCodes.INITIAL_WINDOW_SIZE: 65535,
    SettingCodes.MAX_FRAME_SIZE: MIN_FRAME_SIZE,
    SettingCodes.MAX_HEADER_LIST_SIZE: 2**32 - 1,
    SettingCodes.ENABLE_CONNECT_PROTOCOL: 0,
}


# Allowed values of the settings with limits (RFC 9113 6.5.2, RFC 8441 3).
_SETTING_BOUNDS = {
    SettingCodes.ENABLE_PUSH: (0, 1),
    SettingCodes.INITIAL_WINDOW_SIZE: (0, MAX_WINDOW),
    SettingCodes.MAX_FRAME_SIZE: (MIN_FRAME_SIZE, MAX_FRAME_SIZE),
    SettingCodes.ENABLE_CONNECT_PROTOCOL: (0, 1),
}


def check_setting(setting: int, value: int, *, local: bool, client_side: bool) -> None:
    """Raise LocalProtocolError for a value RFC 9113 6.5.2 forbids."""
    low, high = _SETTING_BOUNDS.get(setting, (0, 2**32 - 1))
    if not low <= value <= high:
        raise LocalProtocolError(f"setting 0x{setting:x} = {value} outside {low}..{high}")
    if setting == SettingCodes.ENABLE_PUSH and value == 1 and client_side != local:
        raise LocalProtocolError("a server cannot enable push")
