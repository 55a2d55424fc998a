"""Brain <-> body protocol: messages, motor pools, transfer functions, transports.

Knows both sides' message formats but no engine internals; imports neither
``brain`` nor ``body``.
"""
from .messages import PROTOCOL_VERSION, Afferents, Hello, MotorCounts, ProtocolError
from .pools import MotorPools, afferent_channels, motor_pools
from .transfer import BridgeParams, ExcitationTransfer, MuscleTransfer, afferent_drive_Hz
from .transport import MpiBodyEnd, MpiBrainEnd, in_process_pair

__all__ = ["PROTOCOL_VERSION", "Afferents", "Hello", "MotorCounts", "ProtocolError",
           "MotorPools", "afferent_channels", "motor_pools", "BridgeParams",
           "ExcitationTransfer", "MuscleTransfer", "afferent_drive_Hz", "MpiBodyEnd",
           "MpiBrainEnd", "in_process_pair"]
