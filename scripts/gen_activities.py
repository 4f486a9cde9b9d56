#!/usr/bin/env python3
"""Generates the root project's synthetic Strava-style activities seed
(deterministic: fixed random seed). Run from the repo root:
    python3 scripts/gen_activities.py > seeds/raw_activities.csv
"""
import csv
import datetime as dt
import random
import sys

rng = random.Random(20261123)
SPORTS = [("Ride", 0.45), ("Run", 0.3), ("Walk", 0.1), ("Hike", 0.05), ("VirtualRide", 0.1)]
start = dt.datetime(2025, 1, 6, 6, 30)

w = csv.writer(sys.stdout, lineterminator="\n")
w.writerow([
    "id", "athlete_id", "name", "sport_type", "start_date_local", "distance", "moving_time", "elapsed_time",
    "total_elevation_gain", "average_speed", "max_speed", "average_watts", "weighted_average_watts",
    "kilojoules", "average_heartrate", "has_heartrate", "commute",
])
for i in range(400):
    r = rng.random()
    acc = 0.0
    for sport, p in SPORTS:
        acc += p
        if r <= acc:
            break
    when = start + dt.timedelta(days=i * 0.9, hours=rng.randint(0, 12), minutes=rng.randint(0, 59))
    if sport in ("Ride", "VirtualRide"):
        speed = rng.uniform(6.0, 10.5)
        moving = rng.randint(1800, 14400)
    elif sport == "Run":
        speed = rng.uniform(2.5, 4.2)
        moving = rng.randint(1200, 7200)
    else:
        speed = rng.uniform(1.0, 1.7)
        moving = rng.randint(1200, 10800)
    distance = round(speed * moving, 1)
    elevation = round(0.0 if sport == "VirtualRide" else rng.uniform(0, 18) * distance / 1000, 1)
    elapsed = moving + rng.randint(0, 1800)
    watts = weighted = kj = ""
    if sport in ("Ride", "VirtualRide"):
        avg_w = 95 + 14 * speed + 2.2 * elevation / (distance / 1000) + rng.gauss(0, 12)
        watts = round(avg_w, 1)
        weighted = round(avg_w * rng.uniform(1.02, 1.15), 1)
        kj = round(avg_w * moving / 1000, 1)
        if rng.random() < 0.06:
            watts = weighted = kj = ""  # rides without a power meter
    has_hr = rng.random() < 0.85
    hr = round(rng.uniform(110, 165), 1) if has_hr else ""
    commute = sport == "Ride" and rng.random() < 0.2
    w.writerow([
        9_000_000_000 + i * 7919, 4242, f"{['Morning', 'Lunch', 'Afternoon', 'Evening'][when.hour // 6 % 4]} {sport}",
        sport, when.strftime("%Y-%m-%d %H:%M:%S"), distance, moving, elapsed, elevation, round(speed, 3),
        round(speed * rng.uniform(1.3, 2.0), 3), watts, weighted, kj, hr, str(has_hr).lower(), str(commute).lower(),
    ])
