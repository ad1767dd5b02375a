"""Execution and watcher IDs: canonical time-ordered UUIDs, never repeated, not even across a fork."""
import os
import threading
import time
import uuid

from engine.support.ids import time_ordered_uuid


def test_an_id_is_a_canonical_version_7_uuid_of_its_time():
    for _ in range(1000):  # across several blocks read from the operating system
        before = time.time_ns() // 1_000_000
        text = time_ordered_uuid()
        after = time.time_ns() // 1_000_000
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
        assert before <= parsed.int >> 80 <= after  # its first 48 bits: the Unix time in milliseconds


def test_a_later_id_sorts_after_an_earlier_one_as_text():
    """What puts a new execution at the end of every index by execution ID (issue 17)."""
    earlier = time_ordered_uuid()
    time.sleep(0.002)
    later = [time_ordered_uuid() for _ in range(100)]
    assert all(earlier < each for each in later)


def test_ids_drawn_in_the_same_millisecond_differ_in_74_random_bits():
    drawn = [uuid.UUID(time_ordered_uuid()).int for _ in range(2000)]
    random_bits = {(n >> 64) & 0xFFF for n in drawn}, {n & ((1 << 62) - 1) for n in drawn}
    assert len(random_bits[0]) > 1000 and len(random_bits[1]) == len(drawn)


def test_ids_do_not_repeat():
    ids = [time_ordered_uuid() for _ in range(20000)]
    assert len(set(ids)) == len(ids)


def test_a_forked_child_does_not_hand_out_its_parents_next_ids():
    """gunicorn forks its workers after the master may have drawn IDs: each must draw its own."""
    time_ordered_uuid()  # the parent holds a block now
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child only reports
        os.close(reader)
        os.write(writer, " ".join(time_ordered_uuid() for _ in range(5)).encode())
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        in_child = set(pipe.read().split())
    os.waitpid(child, 0)
    assert len(in_child) == 5
    assert in_child.isdisjoint(time_ordered_uuid() for _ in range(5))


def test_threads_drawing_at_once_never_hand_out_the_same_id():
    """Request threads draw IDs concurrently, each from blocks of its own."""
    drawn: list[list[str]] = [[] for _ in range(8)]

    def draw(into: list[str]) -> None:
        for _ in range(3000):
            into.append(time_ordered_uuid())

    threads = [threading.Thread(target=draw, args=(into,)) for into in drawn]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for into in drawn for i in into]
    assert len(every) == 8 * 3000 and len(set(every)) == len(every)
