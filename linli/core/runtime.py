"""Process set-up for Linli's long-running workers (MQTT ingest, gate decisions over MQTT).

A full ("generation 2") collection by Python's cyclic garbage collector walks every tracked object in
the process. After Django and the apps are imported that is several hundred thousand objects, and a
full collection stalled an ingest batch for up to 140 ms (measured: 5 full collections in 20 batches
of 500 messages, 542 ms in all) — the tail of the alarm latency. ``freeze_startup_objects`` collects
once and moves everything alive at start-up into the permanent generation (``gc.freeze``, as CPython
recommends for long-lived servers), so later collections only walk what the worker created since.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> int:
    """Collect, then exclude every surviving object from future collections. Returns how many were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
