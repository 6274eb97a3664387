"""Follow mode's rules, without widgets: refusals, stops, offers, and no chasing in circles."""

from __future__ import annotations

import random

from pairtui.core import protocol as p
from pairtui.ui.follow import Follow, MoveTo, Offer, Stopped
from pairtui.ui.people import describe_people, quality_of


def member(
    member_id: str, file: str | None = "f1", following: str | None = None, cursor: int = 0
) -> p.Member:
    return p.Member(
        member=member_id,
        name=member_id.upper(),
        color="#ffffff",
        role="write",
        file=file,
        cursor=cursor,
        following=following,
    )


def test_following_copies_the_target_and_stops_when_they_leave() -> None:
    follow = Follow()
    members = {"a": member("a"), "b": member("b", file="f2", cursor=7)}
    assert follow.start("a", "b", members) is None
    assert follow.members_changed("a", members, "f1") == [MoveTo("b", "f2", 7, None)]
    del members["b"]
    assert follow.members_changed("a", members, "f2") == [Stopped("they left the room")]
    assert follow.target is None and follow.last_target == "b"


def test_refuses_self_absent_and_anyone_who_follows_you_round_a_cycle() -> None:
    follow = Follow()
    members = {"a": member("a"), "b": member("b", following="c"), "c": member("c", following="a")}
    assert follow.start("a", "a", members) == "you cannot follow yourself"
    assert follow.start("a", "zed", members) == "they are no longer in the room"
    refusal = follow.start("a", "b", members)
    assert refusal is not None and "following each other" in refusal
    assert follow.target is None


def test_a_partner_moving_to_another_file_is_an_offer_only_when_not_following() -> None:
    follow = Follow()
    members = {"a": member("a"), "b": member("b")}
    assert follow.members_changed("a", members, "f1") == []
    members["b"] = member("b", file="f2", cursor=3)
    [offer] = follow.members_changed("a", members, "f1")
    assert offer == Offer("b", "B", "f2", 3, "moved")
    assert follow.take_offer() == offer and follow.take_offer() is None
    follow.start("a", "b", members)
    members["b"] = member("b", file="f3")
    assert all(not isinstance(e, Offer) for e in follow.members_changed("a", members, "f1"))


def test_simultaneous_mutual_follows_settle_on_exactly_one_follower() -> None:
    seed = random.randrange(1 << 30)
    print(f"seed {seed}")
    rng = random.Random(seed)
    for _ in range(200):
        ids = rng.sample(["m1", "m2", "m3", "m4", "m9"], 2)
        x, y = ids
        fx, fy = Follow(), Follow()
        members = {x: member(x), y: member(y)}
        assert fx.start(x, y, members) is None  # both start before hearing of the other
        assert fy.start(y, x, members) is None
        seen = {x: member(x, following=y), y: member(y, following=x)}
        fx.members_changed(x, seen, "f1")
        fy.members_changed(y, seen, "f1")
        assert [fx.target, fy.target].count(None) == 1, seed


def test_people_rows_say_where_what_role_and_connection() -> None:
    members = {
        "me": member("me"),
        "b": p.Member(
            member="b",
            name="bea",
            color="#123456",
            role="read",
            file="f1",
            cursor=12,
            rtt=250,
            following="me",
        ),
    }
    rows = describe_people(
        members, "me", lambda f: "main.py", lambda f, c: c // 4 + 1, {"b": 99.0}, 100.0
    )
    assert [r.name for r in rows] == ["ME", "bea"]
    bea = rows[1]
    assert (bea.where, bea.activity, bea.role) == ("main.py:4", "typing", "read-only")
    assert (bea.quality, bea.following) == ("fair 250 ms", "ME")
    assert quality_of(None) == ("unknown", "unknown")
    assert quality_of(40)[1] == "good" and quality_of(900)[1] == "poor"
