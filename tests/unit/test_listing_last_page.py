"""`nextCursor` is null on the last page, also when that page is exactly full (page.lua)."""

from __future__ import annotations

import pytest


def submit(client, auth, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        reply = client.post("/api/v1/jobs", json={"task": "demo.noop"}, headers=auth)
        assert reply.status_code == 201
        ids.append(reply.get_json()["id"])
    return ids


def listing(client, auth, query: str) -> dict:
    reply = client.get(f"/api/v1/jobs?{query}", headers=auth)
    assert reply.status_code == 200, reply.get_json()
    return reply.get_json()


@pytest.mark.parametrize("query", ["limit=3", "limit=1&page=3", "status=pending&limit=3", "limit=3&page=1"])
def test_a_full_last_page_has_no_next_cursor(client, auth, query):
    submit(client, auth, 3)

    body = listing(client, auth, query)

    assert len(body["data"]) in (1, 3)
    assert body["nextCursor"] is None


def test_a_full_page_followed_by_jobs_in_a_later_segment_has_a_cursor(client, auth):
    first, *_ = submit(client, auth, 3)
    assert client.post(f"/api/v1/jobs/{first}/cancel", headers=auth).status_code == 200

    page = listing(client, auth, "limit=2")  # the two pending jobs; the canceled one comes after
    rest = listing(client, auth, f"limit=2&cursor={page['nextCursor']}")

    assert [j["status"] for j in page["data"]] == ["pending", "pending"]
    assert [j["id"] for j in rest["data"]] == [first]
    assert rest["nextCursor"] is None


def test_walking_cursors_returns_every_job_once_and_ends_with_null(client, auth):
    ids = submit(client, auth, 6)
    seen: list[str] = []
    body = listing(client, auth, "limit=2")
    pages = 1
    while True:
        seen += [j["id"] for j in body["data"]]
        if body["nextCursor"] is None:
            break
        body = listing(client, auth, f"limit=2&cursor={body['nextCursor']}")
        pages += 1

    assert sorted(seen) == sorted(ids)
    assert pages == 3  # no trailing empty page
