#!/usr/bin/env python3
"""Reading camera frames in Gauntlet's process protocol, in Python's standard library only.

A minimal system that sees through cameras: it receives the latest frame of every camera at
every step, through shared memory (`mmap` of the file `begin` names) or inline (the bytes after
the step line), checks each frame against the camera `begin` described, and measures how bright
the road just ahead is (the mean level of the bottom-centre of the first camera's frame). It
never intervenes: replace `Vision.step` with your own perception. It writes what it saw to
standard error (kept in `<out>/sut-logs/` when a run fails).

Its manifest (`sut_frames.toml`) asks for `rgb8` frames through `shm`; run it with
  gauntlet run scenarios/camera/ccrs.toml --sut examples/python/sut_frames.toml
Protocol: docs/sut-protocol.md, version 1, section "Camera frames".
"""

import json
import mmap
import os
import sys

PROTOCOL_VERSION = 1


class Vision:
    """One run: its cameras (from `begin`) and what it saw."""

    def __init__(self, begin):
        self.cameras = begin.get("cameras", [])
        self.last_index = {}

    def step(self, obs, source):
        """`source`: the bytes the frames' offsets point into (a memoryview)."""
        for f in obs.get("frames", []):
            cam = self.cameras[f["camera"]]
            if (f["width"], f["height"]) != (cam["width_px"], cam["height_px"]):
                raise ValueError(f"frame of {f['width']}x{f['height']} from camera {cam['id']}")
            if self.last_index.get(f["camera"]) == f["frame_index"]:
                continue  # the same picture as at the previous step
            self.last_index[f["camera"]] = f["frame_index"]
            if f["camera"] != 0:
                continue
            pixels = source[f["offset"]:f["offset"] + f["bytes"]]
            bpp = 3 if f["format"] == "rgb8" else 4
            w, h, stride = f["width"], f["height"], f["stride"]
            # The bottom-centre of the image: the road just ahead.
            x0, x1 = w * 3 // 8, w * 5 // 8
            total = count = 0
            for row in range(h * 7 // 8, h):
                line = pixels[row * stride + x0 * bpp:row * stride + x1 * bpp]
                total += sum(line)
                count += len(line)
            level = total / max(count, 1)
            if count == 0 or total == 0:
                raise ValueError(f"frame {f['frame_index']} of {cam['id']} is blank")
            if f["frame_index"] % 20 == 0:
                print(f"{cam['id']} frame {f['frame_index']} at {f['exposed_at_s']} s: "
                      f"road level {level:.1f}", file=sys.stderr)
        return {"accel_mps2": None, "warning": False}


class Shm:
    """The shared-memory file, mapped read-only; mapped again when `begin` gives a new size."""

    def __init__(self):
        self.key = None
        self.map = None

    def update(self, info):
        key = (info["path"], info["bytes"])
        if key != self.key:
            if self.map is not None:
                self.map.close()
            fd = os.open(info["path"], os.O_RDONLY)
            try:
                self.map = mmap.mmap(fd, info["bytes"], prot=mmap.PROT_READ)
            finally:
                os.close(fd)
            self.key = key

    def view(self):
        return memoryview(self.map) if self.map is not None else memoryview(b"")


def send(msg):
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


def main():
    stdin = sys.stdin.buffer  # bytes: inline frames follow their step line
    runs = {}
    shm = Shm()
    want = os.environ.get("SUT_FRAMES_WANT")  # e.g. "rgba8/inline": pick another offered pair
    for line in stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        kind = msg["type"]
        if kind == "step":
            if "payload_bytes" in msg:
                source = memoryview(stdin.read(msg["payload_bytes"]))
            else:
                source = shm.view()
            commands = []
            for o in msg["observations"]:
                run = o["run"]
                try:
                    cmd = runs[run].step(o, source)
                except Exception as e:  # one run's failure is that run's error
                    print(f"run {run}: {e!r}", file=sys.stderr)
                    cmd = {"error": f"{type(e).__name__}: {e}"}
                cmd["run"] = run
                commands.append(cmd)
            del source
            send({"type": "commands", "seq": msg["seq"], "commands": commands})
        elif kind == "begin":
            if "shm" in msg:
                shm.update(msg["shm"])
            runs[msg["run"]] = Vision(msg)
        elif kind == "end":
            runs.pop(msg["run"], None)
        elif kind == "hello":
            if PROTOCOL_VERSION not in msg["protocol"]:
                send({"type": "error", "message": f"this client speaks protocol {PROTOCOL_VERSION}"})
                return 1
            ready = {"type": "ready", "protocol": PROTOCOL_VERSION, "name": "python-frames",
                     "max_batch": 1024, "want": {"object_list": False, "lane": False}}
            if want:
                fmt, transport = want.split("/")
                ready["want"]["camera"] = {"format": fmt, "transport": transport}
            send(ready)
    return 0


if __name__ == "__main__":
    sys.exit(main())
