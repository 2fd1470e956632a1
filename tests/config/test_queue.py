"""Tasks are enqueued through one broker per process (config.queue): django-q2 builds a
new broker, and with Redis a new connection, for every task it is not given one for."""

from __future__ import annotations

import os

import pytest
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.tasks import async_task

from config import queue
from tests.providers.test_ratelimit import _redis_url


@pytest.fixture
def fresh_broker(monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", False)  # the tests' settings run tasks at once
    queue.broker.cache_clear()
    yield
    queue.broker.cache_clear()


@pytest.mark.django_db
def test_tasks_share_the_process_broker(fresh_broker, monkeypatch):
    made = []

    def counting_get_broker():
        made.append(1)
        return get_broker()

    monkeypatch.setattr(queue, "get_broker", counting_get_broker)
    ids = [queue.enqueue("math.floor", n + 0.5, group="test") for n in range(3)]

    assert len(made) == 1
    assert len(set(ids)) == 3
    assert queue.broker().queue_size() >= 3  # all three are queued


def _connections_received(client) -> int:
    return client.info("stats")["total_connections_received"]


@pytest.mark.slow
def test_with_redis_twenty_tasks_open_one_connection_not_twenty(fresh_broker, monkeypatch):
    url = _redis_url()
    if url is None:
        if os.environ.get("REQUIRE_SERVICES"):
            pytest.fail("Redis is required in CI")
        pytest.skip("no Redis reachable")
    import redis

    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", url)
    monkeypatch.setattr(Conf, "CLUSTER_NAME", "test-queue")
    server = redis.Redis.from_url(url)
    try:
        before = _connections_received(server)
        for n in range(20):
            queue.enqueue("math.floor", n + 0.5)
        through_one_broker = _connections_received(server) - before

        before = _connections_received(server)
        for n in range(20):
            async_task("math.floor", n + 0.5)  # what the code did before
        one_broker_each = _connections_received(server) - before

        assert through_one_broker <= 1
        assert one_broker_each >= 20
    finally:
        server.delete("django_q:test-queue:q")
        server.close()
