"""Two and three people editing through a real relay converge, across several files."""

from __future__ import annotations

import asyncio
import random

from pairtui.client import ClientSession
from tests.server.conftest import SessionFactory


async def settle(*sessions: ClientSession) -> None:
    for session in sessions:
        await session.wait_synced()
    await asyncio.sleep(0.05)


async def test_what_one_types_the_other_sees(session: SessionFactory) -> None:
    ada = await session("ada")
    bob = await session("bob")
    file = ada.files[0].file
    assert ada.files[0].path == "main.py"
    await ada.open(file)
    await bob.open(file)
    ada.replace(file, 0, 0, "print('hi')\n")
    await settle(ada, bob)
    assert bob.syncs[file].text == "print('hi')\n"


async def test_three_people_typing_at_once_converge(session: SessionFactory) -> None:
    people = [await session(name) for name in ("ada", "bob", "cy")]
    file = people[0].files[0].file
    for person in people:
        await person.open(file)
    rng = random.Random(7)
    print("seed 7")
    for round_ in range(40):
        for person in people:
            text = person.syncs[file].text
            if text and rng.random() < 0.3:
                start = rng.randrange(len(text))
                person.replace(file, start, min(2, len(text) - start), "")
            else:
                person.replace(file, rng.randint(0, len(text)), 0, f"<{person.name}{round_}>")
        if round_ % 5 == 0:
            await asyncio.sleep(0.01)
    await settle(*people)
    texts = {person.syncs[file].text for person in people}
    assert len(texts) == 1


async def test_several_files_and_switching_keeps_the_connection(session: SessionFactory) -> None:
    ada = await session("ada")
    bob = await session("bob")
    ada.create_file("ex/two.py", "x = 2\n")
    for _ in range(100):
        if len(bob.files) == 2:
            break
        await asyncio.sleep(0.01)
    paths = {f.path: f.file for f in bob.files}
    assert set(paths) == {"main.py", "ex/two.py"}
    connection_before = bob._connection
    main, two = paths["main.py"], paths["ex/two.py"]
    await ada.open(main)
    await ada.open(two)
    await bob.open(two)
    await bob.open(main)
    assert bob.syncs[two].text == "x = 2\n"
    ada.replace(two, 0, 0, "# two\n")
    bob.replace(main, 0, 0, "# main\n")
    await settle(ada, bob)
    assert ada.syncs[main].text == bob.syncs[main].text == "# main\n"
    assert ada.syncs[two].text == bob.syncs[two].text == "# two\nx = 2\n"
    assert bob._connection is connection_before
    assert bob.reconnects == 0


async def test_rename_and_delete_reach_everyone(session: SessionFactory) -> None:
    ada = await session("ada")
    bob = await session("bob")
    file = ada.files[0].file
    ada.rename_file(file, "solution.py")
    for _ in range(100):
        if bob.files[0].path == "solution.py":
            break
        await asyncio.sleep(0.01)
    assert bob.files[0].path == "solution.py"
    ada.delete_file(file)
    for _ in range(100):
        if not bob.files:
            break
        await asyncio.sleep(0.01)
    assert bob.files == []


async def test_new_member_gets_files_members_and_recent_chat(session: SessionFactory) -> None:
    ada = await session("ada")
    ada.send_chat("welcome! https://example.org")
    file = ada.files[0].file
    await ada.open(file)
    ada.replace(file, 0, 0, "hello")
    await settle(ada)
    for _ in range(100):
        if ada.chat:
            break
        await asyncio.sleep(0.01)
    bob = await session("bob")
    assert [m.text for m in bob.chat] == ["welcome! https://example.org"]
    assert {m.name for m in bob.members.values()} == {"ada", "bob"}
    assert (await bob.open(file)).text == "hello"
