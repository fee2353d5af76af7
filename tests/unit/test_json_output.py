"""Responses are encoded with orjson, without losing what orjson cannot hold (integers beyond 64 bits)."""

from __future__ import annotations


def test_big_integers_in_params_survive_submit_and_read(client, auth):
    big = 123456789012345678901234567890
    reply = client.post(
        "/api/v1/jobs", json={"task": "demo.echo", "params": {"n": big, "m": -(2**70)}}, headers=auth
    )
    assert reply.status_code == 201
    job = client.get(f"/api/v1/jobs/{reply.get_json()['id']}", headers=auth).get_json()
    assert job["params"] == {"n": big, "m": -(2**70)}


def test_validation_details_keyed_by_list_index_encode(client, auth):
    reply = client.post(
        "/api/v1/tokens", json={"name": "x", "role": "viewer", "queues": ["bad name"]}, headers=auth
    )
    assert reply.status_code == 400
    assert reply.get_json()["details"]["queues"] == {"0": ["Must match ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$."]}
