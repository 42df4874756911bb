"""A GRBL 1.1 stand-in on a pseudo-terminal, answering as the controller does.

It models the part of GRBL that streaming depends on: a serial RX buffer of
``rx_size`` bytes (anything beyond is an overflow, recorded, as real GRBL would
drop characters), lines leaving that buffer one per ``line_time`` seconds, each
answered ``ok`` or ``error:N``; ``ALARM:N`` on a chosen line, after which the
buffer is flushed and every line gets ``error:9``; ``<State|MPos|Bf|FS>``
reports on ``?``; feed hold ``!``, cycle start ``~`` and soft reset 0x18, which
flushes everything and prints the welcome banner again.
"""

from __future__ import annotations

import os
import re
import select
import threading
import time
import tty

BANNER = b"\r\nGrbl 1.1h ['$' for help]\r\n"
_AXIS = re.compile(rb"([XYZ])(-?[0-9.]+)")


class GrblSimulator:
    def __init__(
        self,
        *,
        rx_size: int = 127,
        line_time: float = 0.001,
        error_on: dict[bytes, int] | None = None,
        alarm_on: dict[bytes, int] | None = None,
        state: str = "Idle",
        answer: bool = True,
    ) -> None:
        self.rx_size = rx_size
        self.line_time = line_time
        self.error_on = error_on or {}
        self.alarm_on = alarm_on or {}
        self.alarm = state == "Alarm"
        self.door = state == "Door"
        self.answer = answer
        self.rx = bytearray()
        self.max_rx = 0
        self.overflow = False
        self.received: list[bytes] = []  # every line taken from the buffer, in order
        self.executed: list[bytes] = []  # lines answered "ok"
        self.after_alarm: list[bytes] = []  # lines that arrived once in alarm
        self.hold = False
        self.resets = 0
        self.reset_while_moving = False
        self.position = [0.0, 0.0, 0.0]
        self._busy_until = 0.0
        self._next_line_at = 0.0
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        tty.setraw(self.master)
        self.port = os.ttyname(self.slave)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self._stop.set()
        self.thread.join(5)
        os.close(self.master)
        os.close(self.slave)

    # -- what GRBL would say ---------------------------------------------------
    def _say(self, text: bytes) -> None:
        os.write(self.master, text)

    def _state(self) -> str:
        if self.alarm:
            return "Alarm"
        if self.door:
            return "Door:0"
        moving = b"\n" in self.rx or time.monotonic() < self._busy_until
        if self.hold:
            return "Hold:0"
        return "Run" if moving else "Idle"

    def _report(self) -> None:
        x, y, z = self.position
        free = self.rx_size - len(self.rx)
        self._say(
            f"<{self._state()}|MPos:{x:.3f},{y:.3f},{z:.3f}|Bf:15,{free}|FS:0,0>\r\n".encode()
        )

    def _realtime(self, byte: int) -> bool:
        if byte == ord("?"):
            self._report()
        elif byte == ord("!"):
            if not self.alarm:
                self.hold = True
        elif byte == ord("~"):
            self.hold = False
        elif byte == 0x18:
            moving = (b"\n" in self.rx or time.monotonic() < self._busy_until) and not self.hold
            self.reset_while_moving |= moving
            self.rx.clear()
            self.hold = False
            self._busy_until = 0.0
            self.resets += 1
            self._say(BANNER)
            if moving:
                self.alarm = True
                self._say(b"ALARM:3\r\n")
        else:
            return False
        return True

    def _execute(self, line: bytes) -> None:
        self.received.append(line)
        if self.alarm:
            self.after_alarm.append(line)
            self._say(b"error:9\r\n")
            return
        if line in self.alarm_on:
            self.alarm = True
            self.rx.clear()  # GRBL resets its buffers: the rest is never answered
            self._say(f"ALARM:{self.alarm_on[line]}\r\n[MSG:Reset to continue]\r\n".encode())
            return
        if line in self.error_on:
            self._say(f"error:{self.error_on[line]}\r\n".encode())
            return
        for axis, value in _AXIS.findall(line):
            self.position[b"XYZ".index(axis)] = float(value)
        self.executed.append(line)
        self._busy_until = time.monotonic() + 10 * self.line_time  # the planner still moves
        self._say(b"ok\r\n")

    def _loop(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.001)
            if ready:
                try:
                    data = os.read(self.master, 4096)
                except OSError:
                    data = b""
                with self._lock:
                    for byte in data:
                        if not self.answer:
                            continue
                        if self._realtime(byte):
                            continue
                        self.rx.append(byte)
                        if len(self.rx) > self.rx_size:
                            self.overflow = True
                        self.max_rx = max(self.max_rx, len(self.rx))
            now = time.monotonic()
            with self._lock:
                if now >= self._next_line_at and b"\n" in self.rx and not self.hold:
                    line, _, rest = bytes(self.rx).partition(b"\n")
                    self.rx[:] = rest
                    self._execute(line.strip())
                    self._next_line_at = now + self.line_time
