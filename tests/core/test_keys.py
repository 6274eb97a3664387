"""Keys and invite links: derivation is one-way and stable, links read back what they say."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pairtui.core.keys import (
    Invite,
    InviteError,
    hash_secret,
    looks_like_key,
    new_secret,
    parse_invite,
    read_key_for,
)

rooms = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
hosts = st.sampled_from(
    ["ws://127.0.0.1:8765/", "wss://pair.example.org/", "wss://example.org/camp/pair/"]
)


def test_keys_are_long_random_and_distinct() -> None:
    keys = {new_secret() for _ in range(200)}
    assert len(keys) == 200
    assert all(len(key) >= 32 and looks_like_key(key) for key in keys)  # 192 bits


def test_read_key_is_derived_one_way_and_stable() -> None:
    write = new_secret()
    read = read_key_for(write)
    assert read == read_key_for(write) and read != write and looks_like_key(read)
    assert read_key_for(read) != write  # no way back up
    assert read_key_for(new_secret()) != read
    assert hash_secret(read) != hash_secret(write) and len(hash_secret(write)) == 64


@given(hosts, rooms, st.one_of(st.none(), st.builds(lambda _: new_secret(), st.integers())))
def test_links_round_trip(server: str, room: str, key: str | None) -> None:
    invite = Invite(server, room, key)
    assert parse_invite(invite.link()) == invite


def test_link_form_is_documented_one() -> None:
    link = Invite("wss://example.org/camp/", "demo", "K" * 32).link()
    assert link == "pairtui+wss://example.org/camp/demo#" + "K" * 32


@pytest.mark.parametrize(
    ("link", "says"),
    [
        ("ws://127.0.0.1:8765/demo#" + "k" * 32, "starts with"),
        ("pairtui+ws:///demo", "no relay"),
        ("pairtui+ws://127.0.0.1:8765/", "no room"),
        ("pairtui+ws://127.0.0.1:8765/../etc#" + "k" * 32, "'..'"),
        ("pairtui+ws://127.0.0.1:8765/demo?x=1#" + "k" * 32, "copied whole"),
        ("pairtui+ws://127.0.0.1:8765/demo#short", "damaged"),
        ("pairtui+ws://127.0.0.1:8765/demo#" + "k" * 30 + "%20", "damaged"),
    ],
)
def test_bad_links_say_what_is_wrong(link: str, says: str) -> None:
    with pytest.raises(InviteError, match=says):
        parse_invite(link)
