"""Execution and watcher IDs: canonical random UUIDs, never repeated, not even across a fork."""
import os
import threading
import uuid

from engine.support.ids import random_uuid


def test_an_id_is_a_canonical_version_4_uuid():
    for _ in range(1000):  # across several blocks read from the operating system
        text = random_uuid()
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)


def test_ids_do_not_repeat():
    ids = [random_uuid() for _ in range(20000)]
    assert len(set(ids)) == len(ids)


def test_a_forked_child_does_not_hand_out_its_parents_next_ids():
    """gunicorn forks its workers after the master may have drawn IDs: each must draw its own."""
    random_uuid()  # the parent holds a block now
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child only reports
        os.close(reader)
        os.write(writer, " ".join(random_uuid() for _ in range(5)).encode())
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        in_child = set(pipe.read().split())
    os.waitpid(child, 0)
    assert len(in_child) == 5
    assert in_child.isdisjoint(random_uuid() for _ in range(5))


def test_threads_drawing_at_once_never_hand_out_the_same_id():
    """Request threads draw IDs concurrently, each from blocks of its own."""
    drawn: list[list[str]] = [[] for _ in range(8)]

    def draw(into: list[str]) -> None:
        for _ in range(3000):
            into.append(random_uuid())

    threads = [threading.Thread(target=draw, args=(into,)) for into in drawn]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for into in drawn for i in into]
    assert len(every) == 8 * 3000 and len(set(every)) == len(every)
