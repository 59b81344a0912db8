#!/usr/bin/env python3
"""A system under test for Gauntlet's process protocol, in Python's standard library only.

It implements the logic of `builtin:aeb` (forward-collision warning and staged emergency braking
driven by time to collision; docs/reference-systems.md) operation for operation, so that its
verdicts equal the built-in system's. Start from it: replace `Aeb.step` with your own logic and
keep the protocol loop (`main`) as it is.

Protocol (docs/sut-protocol.md, version 1): one JSON object per line on stdin (`hello`, `begin`,
`step`, `end`), one reply per line on stdout (`ready`, `commands`). Standard error is for logs:
Gauntlet saves it to `<out>/sut-logs/<case-id>.log` when a run fails.

Run it: gauntlet run scenarios/euro-ncap/ccrs.toml --sut examples/python/sut.toml
"""

import json
import math
import sys

PROTOCOL_VERSION = 1
INF = math.inf

# --- Shared pieces (src/sut/builtin/common.rs) -------------------------------------------------

STANDSTILL_SPEED_MPS = 0.1
MIN_SPEED_FOR_PATH_CURVATURE_MPS = 2.0
MAX_PATH_CURVATURE_PER_M = 0.02
MIN_CLOSING_SPEED_MPS = 1e-3
MAX_RAW_ACCEL_MPS2 = 15.0


def num(x):
    """A number from the wire: `null` (a non-finite number in the harness) becomes NaN."""
    return math.nan if x is None else float(x)


def finite_or(x, fallback):
    return x if math.isfinite(x) else fallback


def fmax(a, b):
    """Rust's f64::max: NaN loses."""
    if math.isnan(a):
        return b
    if math.isnan(b):
        return a
    return a if a >= b else b


def fmin(a, b):
    """Rust's f64::min: NaN loses."""
    if math.isnan(a):
        return b
    if math.isnan(b):
        return a
    return a if a <= b else b


def clamp(x, lo, hi):
    return fmin(fmax(x, lo), hi)


class Obj:
    """One object of the object list (ego frame: x forward from the front bumper, y left)."""

    __slots__ = ("track_id", "x", "y", "vx", "vy", "heading", "length", "width", "measured_at_s")

    def __init__(self, o):
        self.track_id = int(o["track_id"])
        self.x, self.y = (num(v) for v in o["pos_in_ego_m"])
        self.vx, self.vy = (num(v) for v in o["rel_vel_in_ego_mps"])
        self.heading = num(o["heading_in_ego_rad"])
        self.length = num(o["length_m"])
        self.width = num(o["width_m"])
        self.measured_at_s = num(o["measured_at_s"])

    def gap_m(self):
        c, s = abs(math.cos(self.heading)), abs(math.sin(self.heading))
        return self.x - 0.5 * (self.length * c + self.width * s)

    def lateral_extent_m(self):
        c, s = abs(math.cos(self.heading)), abs(math.sin(self.heading))
        half = 0.5 * (self.length * s + self.width * c)
        return self.y - half, self.y + half

    def usable(self):
        return (
            all(math.isfinite(v) for v in (self.x, self.y, self.vx, self.vy))
            and math.isfinite(self.heading)
            and math.isfinite(self.length)
            and math.isfinite(self.width)
            and self.length >= 0.0
            and self.width >= 0.0
        )


class Obs:
    """One observation."""

    def __init__(self, o):
        self.time_s = num(o["time_s"])
        ego = o["ego"]
        self.speed_mps = num(ego["speed_mps"])
        self.accel_mps2 = num(ego["accel_mps2"])
        self.yaw_rate_radps = num(ego["yaw_rate_radps"])
        self.objects = [Obj(x) for x in o.get("objects") or []]


def ego_speed_mps(obs):
    return fmax(finite_or(obs.speed_mps, 0.0), 0.0)


class Corridor:
    def __init__(self, obs, ego_width_m, margin_m):
        v = ego_speed_mps(obs)
        if v > MIN_SPEED_FOR_PATH_CURVATURE_MPS:
            k = clamp(
                finite_or(obs.yaw_rate_radps / v, 0.0),
                -MAX_PATH_CURVATURE_PER_M,
                MAX_PATH_CURVATURE_PER_M,
            )
        else:
            k = 0.0
        self.half_width_m = 0.5 * ego_width_m + margin_m
        self.curvature_per_m = k

    def centre_y_m(self, x_m):
        x = fmax(x_m, 0.0)
        return 0.5 * self.curvature_per_m * x * x

    def overlaps_at(self, o, t_s):
        right_m, left_m = o.lateral_extent_m()
        shift_m = o.vy * t_s - self.centre_y_m(o.x)
        return right_m + shift_m < self.half_width_m and left_m + shift_m > -self.half_width_m


def time_to_contact_s(gap_m, v_ego_mps, v_obj_mps, a_obj_mps2):
    if gap_m <= 0.0:
        return 0.0
    decel_mps2 = fmax(-a_obj_mps2, 0.0)
    if decel_mps2 < 1e-6 or v_obj_mps <= 0.0:
        closing_mps = v_ego_mps - v_obj_mps
        return gap_m / closing_mps if closing_mps > MIN_CLOSING_SPEED_MPS else INF
    b_mps = v_obj_mps - v_ego_mps
    root_mps = math.sqrt(b_mps * b_mps + 2.0 * decel_mps2 * gap_m)
    if b_mps >= 0.0:
        t_s = (b_mps + root_mps) / decel_mps2
    else:
        t_s = 2.0 * gap_m / (root_mps - b_mps)
    stop_s = v_obj_mps / decel_mps2
    if t_s <= stop_s:
        return t_s
    if v_ego_mps > MIN_CLOSING_SPEED_MPS:
        return (gap_m + v_obj_mps * v_obj_mps / (2.0 * decel_mps2)) / v_ego_mps
    return INF


class TrackMemory:
    """Per-track longitudinal acceleration estimates from successive object lists."""

    def __init__(self):
        # [track_id, rel_vx_mps, measured_at_s, accel_x_mps2, seen], in first-seen order.
        self.entries = []

    def update(self, obs, filter_tau_s):
        ego_accel_mps2 = finite_or(obs.accel_mps2, 0.0)
        for e in self.entries:
            e[4] = False
        for o in obs.objects:
            if not o.usable():
                continue
            rel_vx_mps = o.vx
            measured_at_s = finite_or(o.measured_at_s, obs.time_s)
            e = next((e for e in self.entries if e[0] == o.track_id), None)
            if e is None:
                self.entries.append([o.track_id, rel_vx_mps, measured_at_s, 0.0, True])
                continue
            dt_s = measured_at_s - e[2]
            if dt_s > 1e-6:
                raw_mps2 = clamp(
                    ego_accel_mps2 + (rel_vx_mps - e[1]) / dt_s,
                    -MAX_RAW_ACCEL_MPS2,
                    MAX_RAW_ACCEL_MPS2,
                )
                alpha = dt_s / (fmax(filter_tau_s, 0.0) + dt_s)
                e[3] += alpha * (raw_mps2 - e[3])
                e[1] = rel_vx_mps
                e[2] = measured_at_s
            e[4] = True
        self.entries = [e for e in self.entries if e[4]]

    def accel_x_mps2(self, track_id):
        for e in self.entries:
            if e[0] == track_id:
                return finite_or(e[3], 0.0)
        return 0.0


def most_urgent_threat_ttc_s(obs, corridor, tracks, horizon_s):
    """TTC of the object the ego reaches first among those in its predicted path (inf: none)."""
    v_ego = ego_speed_mps(obs)
    best = None
    for o in obs.objects:
        if not (o.usable() and o.x > 0.0):
            continue
        gap_m = fmax(o.gap_m(), 0.0)
        obj_speed_mps = v_ego + o.vx
        ttc_s = time_to_contact_s(gap_m, v_ego, obj_speed_mps, tracks.accel_x_mps2(o.track_id))
        if not math.isfinite(ttc_s) or not corridor.overlaps_at(o, fmax(fmin(ttc_s, horizon_s), 0.0)):
            continue
        key = (ttc_s, gap_m, o.track_id)
        if best is None or key < best:
            best = key
    return INF if best is None else best[0]


def standstill_hold_needed(obs, corridor, hold_gap_m, recede_speed_mps):
    nearest = None
    for o in obs.objects:
        if o.usable() and o.x > 0.0 and corridor.overlaps_at(o, 0.0):
            key = (o.gap_m(), o.track_id)
            if nearest is None or key < nearest[0]:
                nearest = (key, o)
    if nearest is None:
        return False
    o = nearest[1]
    return o.gap_m() < hold_gap_m and o.vx < recede_speed_mps


# --- The AEB system (src/sut/builtin/aeb.rs) ---------------------------------------------------

OFF, PARTIAL, FULL = 0, 1, 2


class AebConfig:
    warning_ttc_s = 2.6
    partial_brake_ttc_s = 1.4
    full_brake_ttc_s = 0.8
    partial_decel_mps2 = 4.0
    full_decel_mps2 = 9.0
    min_warning_lead_s = 0.8
    release_ttc_s = 3.0
    release_min_speed_mps = 15.0 / 3.6
    path_margin_m = 0.2
    prediction_horizon_s = 3.0
    min_speed_mps = 5.0 / 3.6
    accel_filter_tau_s = 0.15
    hold_gap_m = 10.0
    hold_recede_speed_mps = 0.5


class Aeb:
    """One run's AEB state; `setup` is the `begin` message's."""

    def __init__(self, setup):
        self.cfg = AebConfig()
        self.ego_width_m = num(setup["ego_width_m"])
        self.ego_max_decel_mps2 = num(setup["ego_max_decel_mps2"])
        self.tracks = TrackMemory()
        self.warning_since_s = None
        self.stage = OFF

    def decel_mps2(self, stage):
        max_mps2 = fmax(self.ego_max_decel_mps2, 0.0)
        if stage == PARTIAL:
            return fmin(self.cfg.partial_decel_mps2, max_mps2)
        if stage == FULL:
            return fmin(self.cfg.full_decel_mps2, max_mps2)
        return 0.0

    def step(self, obs):
        cfg = self.cfg
        self.tracks.update(obs, cfg.accel_filter_tau_s)
        v_mps = ego_speed_mps(obs)
        corridor = Corridor(obs, self.ego_width_m, cfg.path_margin_m)
        ttc_s = most_urgent_threat_ttc_s(obs, corridor, self.tracks, cfg.prediction_horizon_s)

        if self.stage != OFF:
            if v_mps < STANDSTILL_SPEED_MPS:
                if not standstill_hold_needed(obs, corridor, cfg.hold_gap_m, cfg.hold_recede_speed_mps):
                    self.stage = OFF
            elif not math.isfinite(ttc_s) or (
                ttc_s > cfg.release_ttc_s and v_mps > cfg.release_min_speed_mps
            ):
                self.stage = OFF
            elif ttc_s <= cfg.full_brake_ttc_s:
                self.stage = FULL
        elif v_mps >= cfg.min_speed_mps:
            warned_s = 0.0 if self.warning_since_s is None else obs.time_s - self.warning_since_s
            if ttc_s <= cfg.full_brake_ttc_s:
                self.stage = FULL
            elif ttc_s <= cfg.partial_brake_ttc_s and warned_s >= cfg.min_warning_lead_s - 1e-9:
                self.stage = PARTIAL

        warn = self.stage != OFF or (v_mps >= cfg.min_speed_mps and ttc_s <= cfg.warning_ttc_s)
        if warn:
            if self.warning_since_s is None:
                self.warning_since_s = obs.time_s
        else:
            self.warning_since_s = None

        accel_mps2 = None if self.stage == OFF else -self.decel_mps2(self.stage)
        return {"accel_mps2": accel_mps2, "warning": warn}


# --- The protocol loop -------------------------------------------------------------------------


def send(msg):
    sys.stdout.write(json.dumps(msg, separators=(",", ":"), allow_nan=False) + "\n")
    sys.stdout.flush()


def main():
    runs = {}
    for line in sys.stdin:
        msg = json.loads(line)
        kind = msg["type"]
        if kind == "step":
            commands = []
            for o in msg["observations"]:
                run = o["run"]
                try:
                    cmd = runs[run].step(Obs(o))
                except Exception as e:  # one run's failure is that run's error, not the process's
                    print(f"run {run}: {e!r}", file=sys.stderr)
                    cmd = {"error": f"{type(e).__name__}: {e}"}
                cmd["run"] = run
                commands.append(cmd)
            send({"type": "commands", "seq": msg["seq"], "commands": commands})
        elif kind == "begin":
            runs[msg["run"]] = Aeb(msg["setup"])
        elif kind == "end":
            runs.pop(msg["run"], None)
        elif kind == "hello":
            if PROTOCOL_VERSION not in msg["protocol"]:
                send({"type": "error", "message": f"this client speaks protocol {PROTOCOL_VERSION}"})
                return 1
            # Many runs at once are fine: each has its own state in `runs`.
            send({"type": "ready", "protocol": PROTOCOL_VERSION, "name": "python-aeb", "max_batch": 1024})
    # Standard input closed: the harness is done.
    return 0


if __name__ == "__main__":
    sys.exit(main())
