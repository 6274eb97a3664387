"""``pair devices``: the microphones and speakers voice can use, by the names it accepts."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

from pairtui.voice import voice_unavailable


def run_devices() -> int:
    problem = voice_unavailable()
    if problem is not None:
        print(f"pair devices: {problem}", file=sys.stderr)
        return 1
    from pairtui.voice.devices import DeviceError, list_devices

    try:
        devices = list_devices()
    except DeviceError as error:
        print(f"pair devices: {error}", file=sys.stderr)
        return 1
    if not devices:
        print(
            "pair devices: PortAudio sees no audio devices: connect a headset or check your "
            "system's sound settings.",
            file=sys.stderr,
        )
        return 1
    table = Table("name", "in", "out", "default", title="Audio devices")
    for device in devices:
        default = ", ".join(
            word
            for word, flag in (("mic", device.default_input), ("speaker", device.default_output))
            if flag
        )
        table.add_row(device.name, str(device.inputs), str(device.outputs), default)
    Console().print(table)
    print("Choose with  pair join ROOM --mic NAME --speaker NAME  (any part of a name),")
    print('or in config.toml:  [voice]  microphone = "NAME"  speaker = "NAME"')
    return 0
