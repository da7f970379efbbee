#!/usr/bin/env python3
"""Expected minutes to the confirmed cause under three check orders, on generated company mixes
(docs/PERFORMANCE.md, "Check orders"): the field guide's fixed order, the order bmslink learns
from the company's closed cases (`bmslink stats --json`, key `order`), and the probability-per-
minute optimum for the mix, worked out here independently of bmslink.

Each mix is 200 closed calls, each settled by one check; the "two families" mix records the
inverter and battery models, so that each call can take its own group's order (and a known-bad
pair its check first), and is run again without them. Its history is walked in the guide's
order: every check before the settling one is recorded as passed, with the catalogue's minutes.
The cases go into a fresh SQLite file through `bmslink case import`.

    bench/orders.py [--bmslink build/bmslink] [--out DIR]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MIXES = {
    # The field guide's own 100 calls, twice: 43 protocol, 31 termination, 12 cable (10 in layer 3
    # by the catalogue's likelihoods, 2 crushed insulation), 6 DIP, 5 bit rate, 3 firmware.
    "guide's own": {"l1.protocol_setting": 86, "l2.termination": 62, "l3.cable_type": 10,
                    "l3.length": 4, "l3.gauge": 2, "l3.routing": 2, "l3.bend_radius": 2,
                    "l2.cable_damage": 4, "l1.dip_switches": 12, "l1.bitrate": 10,
                    "l5.firmware": 6},
    # Issue 23's installer: 45 % termination, 15 % connection, 15 % cable, 15 % protocol,
    # 5 % DIP, 5 % bit rate.
    "termination-heavy": {"l2.termination": 90, "l2.cable_damage": 30, "l3.cable_type": 30,
                          "l1.protocol_setting": 30, "l1.dip_switches": 10, "l1.bitrate": 10},
    # Long runs through walls and trays: 40 % cable, 20 % termination, 15 % connection.
    "cable-heavy": {"l3.cable_type": 30, "l3.length": 20, "l3.gauge": 10, "l3.routing": 10,
                    "l3.bend_radius": 10, "l2.termination": 40, "l2.terminals": 15,
                    "l2.crimps": 15, "l1.protocol_setting": 30, "l1.dip_switches": 10,
                    "l1.bitrate": 10},
    # One inverter brand's firmware: 30 % firmware, 30 % protocol, 20 % termination.
    "firmware-heavy": {"l5.firmware": 60, "l1.protocol_setting": 60, "l2.termination": 40,
                       "l1.bitrate": 20, "l3.cable_type": 20},
    # Two inverter families with different troubles, and one pair of models that is known bad:
    # (inverter, battery, calls by settling check). A group's order and a pair's known cause are
    # worth most here; the optimum knows each call's group.
    "two families": [
        ("Deye SUN-5K-SG03LP1-EU", "Pylontech US5000",
         {"l2.termination": 80, "l1.protocol_setting": 30, "l3.cable_type": 20}),
        ("Deye SUN-5K-SG03LP1-EU", "Dyness B4850", {"l1.bitrate": 10}),
        ("Growatt SPF 5000ES", "Pylontech US5000", {"l3.routing": 45, "l2.crimps": 15}),
    ],
}


def parts(mix):
    """A mix as (inverter, battery, calls) parts; a plain mix is one part with no models."""
    return mix if isinstance(mix, list) else [("", "", mix)]


def merged(mix):
    out = {}
    for _, _, calls in parts(mix):
        for k, v in calls.items():
            out[k] = out.get(k, 0) + v
    return out


def catalogue():
    with open(os.path.join(ROOT, "data", "checks", "five_layers.json")) as f:
        return json.load(f)["checks"]


def costless(c):
    return c.get("capture_only", False) or c.get("minutes", 0) <= 0


def guide_order(checks):
    """Layer, then the field guide's calls per minute; costless checks first in their layer."""
    def key(c):
        per_minute = float("inf") if costless(c) else c.get("likelihood", 0) / c["minutes"]
        return (c["layer"], -per_minute)
    order = sorted(checks, key=key)  # Python's sort is stable: catalogue order on ties
    # The catalogue's `needs`: a check moves after those it needs.
    out, placed, waiting = [], set(), []
    def ready(c):
        return all(n in placed for n in c.get("needs", []))
    for c in order:
        waiting.append(c)
        moved = True
        while moved:
            moved = False
            for w in waiting:
                if ready(w):
                    waiting.remove(w)
                    out.append(w)
                    placed.add(w["id"])
                    moved = True
                    break
    return out + waiting


def expected(order, mix):
    elapsed, total, weight = 0.0, 0.0, 0.0
    for c in order:
        if not costless(c):
            elapsed += c["minutes"]
        w = mix.get(c["id"], 0)
        total += w * elapsed
        weight += w
    return total / weight


def optimum(checks, mix):
    """Smith's rule: one settling check per call, so ordering by share per minute minimises the
    expected minutes; checks that cost nothing first. Checks no call needs go last."""
    return expected(sorted(checks, key=lambda c: -(float("inf") if costless(c)
                                                   else mix.get(c["id"], 0) / c["minutes"])), mix)


def cases_for(mix, checks, order, models=True):
    by_id = {c["id"]: c for c in checks}
    lines = []
    n = 0
    for settling, count, inverter, bms in [(k, v, i, b) for i, b, calls in parts(mix)
                                           for k, v in calls.items()]:
        before = []
        for c in order:
            if c["id"] == settling:
                break
            if not costless(c):
                before.append(c)
        s = by_id[settling]
        for _ in range(count):
            n += 1
            history = [{"check": c["id"], "layer": c["layer"], "inputs": {}, "verdict": "pass",
                        "minutes": c["minutes"]} for c in before]
            history.append({"check": settling, "layer": s["layer"], "inputs": {},
                            "verdict": "fail", "minutes": s["minutes"]})
            case = {
                "id": f"bench-{n:04d}", "opened": "2026-06-01T08:00:00Z",
                "closed": "2026-06-01T09:00:00Z", "outcome": "fixed",
                "root_cause": s["confirms"], "layer": s["layer"], "checks": history}
            if models and (inverter or bms):
                case["inverter"] = {"model": inverter, "firmware": ""}
                case["bms"] = {"model": bms, "firmware": "", "count": 1}
            lines.append(json.dumps(case))
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bmslink", default=os.path.join(ROOT, "build", "bmslink"))
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    checks = catalogue()
    order = guide_order(checks)
    rows = []
    runs = [(name, mix, True) for name, mix in MIXES.items()]
    # The mix with models, again without them: what the groups and the known-bad pair add.
    runs += [(name + ", no models recorded", mix, False) for name, mix in MIXES.items()
             if isinstance(mix, list)]
    with tempfile.TemporaryDirectory() as tmp:
        for name, mix, models in runs:
            db = os.path.join(tmp, "".join(ch for ch in name if ch.isalnum()) + ".db")
            jsonl = db + ".jsonl"
            with open(jsonl, "w") as f:
                f.write(cases_for(mix, checks, order, models))
            subprocess.run([args.bmslink, "case", "import", jsonl, "--db", db], check=True,
                           stdout=subprocess.DEVNULL)
            stats = json.loads(subprocess.run([args.bmslink, "stats", "--db", db, "--json"],
                                              check=True, capture_output=True,
                                              text=True).stdout)
            o = stats["order"]
            whole = merged(mix)
            calls = sum(whole.values())
            # The optimum knows each call's group when the models are recorded: Smith's rule per
            # part, weighted by its calls.
            best = (sum(optimum(checks, c) * sum(c.values()) for _, _, c in parts(mix)) / calls
                    if models else optimum(checks, whole))
            rows.append({"mix": name, "cases": calls, "models": models,
                         "guide_bmslink": o["guide_minutes"],
                         "guide_here": expected(order, whole),
                         "learned": o["learned_minutes"], "optimum": best,
                         "groups": len(o.get("groups", [])),
                         "known_bad_pairs": len(o.get("known_bad_pairs", []))})
    out = ["| mix (200 closed calls) | guide's order, min | the same, worked out here | "
           "learned order, min | p/c optimum, min | learned / guide | optimum / guide |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['mix']} | {r['guide_bmslink']:.3f} | {r['guide_here']:.3f} | "
                   f"{r['learned']:.3f} | {r['optimum']:.3f} | "
                   f"{r['learned'] / r['guide_bmslink']:.3f} | "
                   f"{r['optimum'] / r['guide_bmslink']:.3f} |")
    text = "\n".join(out)
    print(text)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "orders.md"), "w") as f:
            f.write(text + "\n")
        with open(os.path.join(args.out, "orders.json"), "w") as f:
            json.dump(rows, f, indent=1)
    # The guide's order as bmslink walks it must be the one worked out here; the learned order is
    # never slower than the guide's, and on issue 23's termination-heavy mix at most 0.65x.
    bad = [r for r in rows if abs(r["guide_bmslink"] - r["guide_here"]) > 1e-9]
    if bad:
        print("the guide's minutes differ from bmslink's:", bad, file=sys.stderr)
        return 1
    slower = [r for r in rows if r["learned"] > r["guide_bmslink"] + 1e-9]
    heavy = [r for r in rows if r["mix"] == "termination-heavy"][0]
    if slower or heavy["learned"] > 0.65 * heavy["guide_bmslink"]:
        print("the learned order misses its aim:", slower or heavy, file=sys.stderr)
        return 1
    # With the models recorded, the groups and the known-bad pair must be found and save time.
    with_models = [r for r in rows if r["mix"] == "two families"][0]
    without = [r for r in rows if r["mix"] == "two families, no models recorded"][0]
    if (with_models["groups"] < 2 or with_models["known_bad_pairs"] != 1 or
            with_models["learned"] >= without["learned"] - 1e-9):
        print("the groups do not pay:", with_models, without, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
