"""Demo grid patrols (C6): routes through the buildings of the demo grid worker's grid and of a
neighbouring grid (with a second grid worker), a week of past tasks with check-ins (some off route,
one missed patrol), and today's tasks — so /console/patrols/ has something to show at once.

Dates are relative to the real today (the tasks must be "today's"); everything else is seeded.
Written straight to the tables (a few hundred rows), like the rest of the demo.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass

from django.utils import timezone

from .geo import PointSampler

SECOND_WORKER = ("grid2", "陈晓东")
STREET_POINTS = ["消防通道", "车棚", "垃圾分类点", "路口"]


@dataclass(frozen=True)
class Stop:
    name: str
    lat: float
    lng: float
    building_id: int | None


ROUTES = [("日常巡查", dt.time(8, 30), dt.time(11, 30), 6), ("夜间安全巡查", dt.time(19, 0), dt.time(21, 30), 4)]


def _walk(buildings: list, n: int) -> list:
    """Up to ``n`` buildings in a nearest-neighbour order starting from the southernmost one."""
    left = sorted(buildings, key=lambda b: (b.lat, b.lng))
    if not left:
        return []
    path = [left.pop(0)]
    while left and len(path) < n:
        last = path[-1]
        nxt = min(left, key=lambda b: (b.lat - last.lat) ** 2 + ((b.lng - last.lng) * math.cos(math.radians(last.lat))) ** 2)
        left.remove(nxt)
        path.append(nxt)
    return path


def build(*, grid, grid_worker, community, password_hash: str, rng: random.Random, role) -> dict[str, int]:
    from linli.orgs.models import Account, AccountKind, RoleAssignment
    from linli.patrols.models import CheckIn, Checkpoint, PatrolRoute, PatrolTask, TaskStatus
    from linli.places.models import Building, Region

    counts = {"patrol_routes": 0, "patrol_tasks": 0, "patrol_checkins": 0}
    neighbour = Region.objects.filter(level="grid", path__startswith=community.path).exclude(pk=grid.pk).order_by("path").first()
    crews = [(grid, grid_worker)]
    if neighbour is not None:
        second = Account.objects.create(username=SECOND_WORKER[0], password=password_hash, kind=AccountKind.STAFF, display_name=SECOND_WORKER[1],
                                        organisation=grid_worker.organisation)
        RoleAssignment.objects.create(account=second, role=role, region=neighbour)
        crews.append((neighbour, second))
    today = timezone.localdate()
    tz = timezone.get_current_timezone()
    for region, worker in crews:
        buildings = [Stop(f"{b.name or b.number + '号楼'}出入口", b.lat, b.lng, b.pk)
                     for b in Building.objects.filter(region=region, lat__isnull=False).only("id", "name", "number", "lat", "lng")]
        sampler = PointSampler(region.boundary, rng, margin=0.0003) if region.boundary else None
        for r_i, (name, start, end, size) in enumerate(ROUTES):
            stops = list(buildings[r_i::2] or buildings)
            while sampler is not None and len(stops) < size:  # small grids: add street points of the grid
                lng, lat = sampler.point()
                stops.append(Stop(f"{STREET_POINTS[len(stops) % len(STREET_POINTS)]}{len(stops) + 1}", lat, lng, None))
            stops = _walk(stops, size)
            if len(stops) < 2:
                continue
            route = PatrolRoute.objects.create(region=region, name=f"{region.name}{name}", tolerance_m=50,
                                               description="途经楼栋出入口、消防通道与车棚" if r_i == 0 else "重点检查消防通道、电动车充电与照明")
            points = Checkpoint.objects.bulk_create([
                Checkpoint(route=route, seq=i + 1, name=b.name, lat=b.lat, lng=b.lng, tolerance_m=50, building_id=b.building_id)
                for i, b in enumerate(stops)
            ])
            counts["patrol_routes"] += 1
            for back in range(6, -1, -1):
                day = today - dt.timedelta(days=back)
                ws, we = dt.datetime.combine(day, start, tzinfo=tz), dt.datetime.combine(day, end, tzinfo=tz)
                if back == 0:
                    PatrolTask.objects.create(route=route, region=region, worker=worker, date=day, window_start=ws, window_end=we,
                                              checkpoint_total=len(points))
                    counts["patrol_tasks"] += 1
                    continue
                if back == 3 and r_i == 1:  # one missed evening patrol in the week
                    PatrolTask.objects.create(route=route, region=region, worker=worker, date=day, window_start=ws, window_end=we,
                                              checkpoint_total=len(points), status=TaskStatus.MISSED, missed_at=we + dt.timedelta(minutes=30))
                    counts["patrol_tasks"] += 1
                    continue
                began = ws + dt.timedelta(minutes=rng.randint(0, 20))
                task = PatrolTask.objects.create(route=route, region=region, worker=worker, date=day, window_start=ws, window_end=we,
                                                 checkpoint_total=len(points), status=TaskStatus.IN_PROGRESS, started_at=began)
                at, rows, reached = began, [], 0
                for p in points:
                    if rng.random() < 0.12:  # skipped this stop today
                        continue
                    at += dt.timedelta(minutes=rng.randint(6, 18))
                    off = rng.random() < 0.1
                    d_lat = rng.uniform(0.0008, 0.0012) if off else rng.uniform(-0.0002, 0.0002)
                    lat, lng = p.lat + d_lat, p.lng + rng.uniform(-0.0002, 0.0002)
                    dist = math.hypot((lat - p.lat) * 111_320, (lng - p.lng) * 111_320 * math.cos(math.radians(p.lat)))
                    rows.append(CheckIn(task=task, checkpoint=p, lat=lat, lng=lng, accuracy_m=rng.randint(5, 25), distance_m=round(dist, 1),
                                        off_route=dist > p.tolerance_m, at=at, created_by=worker, note="正常" if rng.random() < 0.3 else ""))
                    reached += dist <= p.tolerance_m
                CheckIn.objects.bulk_create(rows)
                note = "" if reached == len(points) else "部分点位施工围挡，无法到达"
                PatrolTask.objects.filter(pk=task.pk).update(status=TaskStatus.DONE, visited_count=reached, finished_at=at + dt.timedelta(minutes=5),
                                                             note=note)
                counts["patrol_tasks"] += 1
                counts["patrol_checkins"] += len(rows)
    return counts
