"""Redis, the store for several relay processes or machines (redis-py asyncio).

A commit is one Lua script, so it is atomic: it first checks every write
(each op must follow its file's stored revision exactly, each chat id must
be new), and only if all pass does it apply them. That compare-and-set is
what keeps two relay processes from both claiming a revision. Loading a room
is one script too, so it reads one consistent moment.

Durability is Redis's: with ``appendonly yes`` and ``appendfsync always`` an
acknowledged edit survives a crash of Redis itself; with ``everysec`` (the
usual setting) up to a second of edits can be lost if Redis dies (not if a
relay dies: docs/deploy.md). Redis Cluster is not supported (a commit may
touch several rooms' keys); use one primary, with replicas for failover.

Keys, under a prefix (default ``pairtui``):

    P:rooms                  set of room names
    P:room:R                 hash: created_at, keys_write, keys_read, chat_max
    P:files:R                sorted set of file ids by creation time
    P:file:R:F               hash: path, revision, snapshot_revision, snapshot_text
    P:ops:R:F                sorted set of ops (JSON) scored by revision
    P:seqs:R:F               hash: client id -> "seq,revision"
    P:chat:R                 sorted set of chat messages (JSON) scored by id
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import msgspec
import redis.asyncio as aioredis
import redis.exceptions

from pairtui.core.ot import TextOperation
from pairtui.core.protocol import ChatMessage
from server.document import HistoryEntry
from server.store.base import Store
from server.store.grouping import GroupCommit
from server.store.loading import StoredFile, oldest_needed
from server.store.records import (
    ChatAppended,
    FileCreated,
    FileDeleted,
    FileRecord,
    FileRenamed,
    KeyHashes,
    KeysSet,
    OpAppended,
    RevisionConflict,
    RoomCreated,
    RoomRecord,
    SnapshotSaved,
    StoreError,
    Write,
)

COMMIT = """
local P = ARGV[1]
local writes = cjson.decode(ARGV[2])
local function file_key(w) return P .. ':file:' .. w.room .. ':' .. w.file end
-- Pass 1: check everything, change nothing.
local revisions, chat_max, files = {}, {}, {}
for _, w in ipairs(writes) do
  if w.k == 'file' then
    files[file_key(w)] = true
    revisions[file_key(w)] = 0
  elseif w.k == 'delete' then
    files[file_key(w)] = false
  elseif w.k == 'op' then
    local key = file_key(w)
    local current = revisions[key]
    if current == nil then
      current = tonumber(redis.call('HGET', key, 'revision'))
    end
    if current == nil or files[key] == false then
      return redis.error_reply('CONFLICT ' .. w.room .. '/' .. w.file .. ' does not exist')
    end
    if w.revision ~= current + 1 then
      return redis.error_reply('CONFLICT ' .. w.room .. '/' .. w.file .. ': revision '
        .. current .. ' is stored, not ' .. (w.revision - 1))
    end
    revisions[key] = w.revision
  elseif w.k == 'chat' then
    local current = chat_max[w.room]
    if current == nil then
      current = tonumber(redis.call('HGET', P .. ':room:' .. w.room, 'chat_max')) or 0
    end
    if w.id <= current then
      return redis.error_reply('CONFLICT chat ' .. w.id .. ' of ' .. w.room .. ' exists')
    end
    chat_max[w.room] = w.id
  end
end
-- Pass 2: apply.
for _, w in ipairs(writes) do
  local room_key = P .. ':room:' .. w.room
  if w.k == 'room' then
    redis.call('SADD', P .. ':rooms', w.room)
    redis.call('HSETNX', room_key, 'created_at', w.created_at)
  elseif w.k == 'file' then
    redis.call('HSET', file_key(w), 'path', w.path, 'revision', 0,
      'snapshot_revision', 0, 'snapshot_text', w.text)
    redis.call('ZADD', P .. ':files:' .. w.room, w.created_at, w.file)
  elseif w.k == 'rename' then
    redis.call('HSET', file_key(w), 'path', w.path)
  elseif w.k == 'delete' then
    redis.call('DEL', file_key(w), P .. ':ops:' .. w.room .. ':' .. w.file,
      P .. ':seqs:' .. w.room .. ':' .. w.file)
    redis.call('ZREM', P .. ':files:' .. w.room, w.file)
  elseif w.k == 'op' then
    redis.call('HSET', file_key(w), 'revision', w.revision)
    redis.call('ZADD', P .. ':ops:' .. w.room .. ':' .. w.file, w.revision, w.entry)
    redis.call('HSET', P .. ':seqs:' .. w.room .. ':' .. w.file, w.client_id,
      w.seq .. ',' .. w.revision)
  elseif w.k == 'snapshot' then
    local stored = tonumber(redis.call('HGET', file_key(w), 'snapshot_revision'))
    if stored ~= nil and stored < w.revision then
      redis.call('HSET', file_key(w), 'snapshot_revision', w.revision, 'snapshot_text', w.text)
    end
    redis.call('ZREMRANGEBYSCORE', P .. ':ops:' .. w.room .. ':' .. w.file, '-inf',
      w.revision - w.keep_ops)
  elseif w.k == 'chat' then
    redis.call('ZADD', P .. ':chat:' .. w.room, w.id, w.message)
    redis.call('ZREMRANGEBYSCORE', P .. ':chat:' .. w.room, '-inf', w.id - w.keep)
    redis.call('HSET', room_key, 'chat_max', w.id)
  elseif w.k == 'keys' then
    redis.call('HSET', room_key, 'keys_write', w.write, 'keys_read', w.read)
  end
end
return #writes
"""

LOAD = """
local P, room, history = ARGV[1], ARGV[2], tonumber(ARGV[3])
local room_key = P .. ':room:' .. room
if redis.call('EXISTS', room_key) == 0 then return false end
local result = {room = redis.call('HGETALL', room_key), files = {},
  chat = redis.call('ZRANGE', P .. ':chat:' .. room, 0, -1)}
for _, file in ipairs(redis.call('ZRANGE', P .. ':files:' .. room, 0, -1)) do
  local key = P .. ':file:' .. room .. ':' .. file
  local revision = tonumber(redis.call('HGET', key, 'revision'))
  local snapshot_revision = tonumber(redis.call('HGET', key, 'snapshot_revision'))
  local oldest = math.max(0, math.min(snapshot_revision, revision - history))
  table.insert(result.files, {
    file = file, fields = redis.call('HGETALL', key),
    ops = redis.call('ZRANGEBYSCORE', P .. ':ops:' .. room .. ':' .. file, '(' .. oldest, '+inf'),
    seqs = redis.call('HGETALL', P .. ':seqs:' .. room .. ':' .. file)})
end
return cjson.encode(result)
"""

_entry_decoder = msgspec.json.Decoder(tuple[int, str, int, str | None, list[int | str], float])
_chat_decoder = msgspec.json.Decoder(ChatMessage)


class RedisStore(Store):
    """Rooms in one Redis database, shared by every relay process that uses it."""

    def __init__(self, client: aioredis.Redis, prefix: str = "pairtui") -> None:
        self.client = client
        self.prefix = prefix
        self._commit = client.register_script(COMMIT)
        self._load = client.register_script(LOAD)
        self._group = GroupCommit(self._write_now)

    @classmethod
    async def open(cls, url: str, prefix: str = "pairtui") -> RedisStore:
        """Connect to ``url`` (``redis://host:6379/0``) and check that Redis answers."""
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=64, timeout=10, socket_timeout=10, socket_connect_timeout=5
        )
        client = aioredis.Redis(connection_pool=pool)
        try:
            await client.ping()
        except (redis.exceptions.RedisError, OSError) as error:
            await client.aclose()
            raise StoreError(f"cannot reach Redis at {safe_url(url)}: {error}") from error
        return cls(client, prefix)

    async def load_room(self, name: str, *, history: int) -> RoomRecord | None:
        raw = await self._call(self._load, [self.prefix, name, history])
        if raw is None:
            return None
        data: dict[str, Any] = msgspec.json.decode(raw)
        room = _pairs(data["room"])
        files = [self._file(name, item, history) for item in data["files"]]
        chat = [_chat_decoder.decode(message) for message in data["chat"]]
        keys = None
        if "keys_write" in room:
            keys = KeyHashes(room["keys_write"], room["keys_read"])
        return RoomRecord(name, float(room["created_at"]), files, chat, keys)

    async def commit(self, writes: Sequence[Write]) -> None:
        await self._group.commit(writes)

    async def _write_now(self, writes: Sequence[Write]) -> None:
        payload = msgspec.json.encode([_encode(write) for write in writes])
        await self._call(self._commit, [self.prefix, payload])

    async def load_keys(self, name: str) -> tuple[KeyHashes | None] | None:
        try:
            found = await self.client.hmget(
                f"{self.prefix}:room:{name}", ["created_at", "keys_write", "keys_read"]
            )
        except (redis.exceptions.RedisError, OSError) as error:
            raise StoreError(f"Redis failed: {error}") from error
        created, write, read = (v.decode() if isinstance(v, bytes) else v for v in found)
        if created is None:
            return None
        return (KeyHashes(write, read) if write and read else None,)

    async def room_names(self) -> list[str]:
        try:
            names = await self.client.smembers(f"{self.prefix}:rooms")
        except (redis.exceptions.RedisError, OSError) as error:
            raise StoreError(f"Redis failed: {error}") from error
        return sorted(name.decode() if isinstance(name, bytes) else name for name in names)

    async def close(self) -> None:
        await self._group.drain()
        await self.client.aclose()

    async def _call(self, script: Any, args: list[Any]) -> Any:
        try:
            return await script(keys=[], args=args)
        except redis.exceptions.ResponseError as error:
            text = str(error)
            if "CONFLICT" in text:
                raise RevisionConflict(text.split("CONFLICT", 1)[1].strip()) from None
            raise StoreError(f"Redis refused the write: {text}") from error
        except (redis.exceptions.RedisError, OSError) as error:
            raise StoreError(f"Redis failed: {error}") from error

    @staticmethod
    def _file(room: str, item: dict[str, Any], history: int) -> FileRecord:
        fields = _pairs(item["fields"])
        entries = []
        for raw in item["ops"]:
            revision, client_id, seq, member, op, _ = _entry_decoder.decode(raw)
            entries.append(
                HistoryEntry(revision, TextOperation.from_json(op), client_id, seq, member)
            )
        applied = {}
        for client_id, value in _pairs(item["seqs"]).items():
            seq_text, revision_text = value.split(",")
            applied[client_id] = (int(seq_text), int(revision_text))
        revision, snapshot_revision = int(fields["revision"]), int(fields["snapshot_revision"])
        oldest = oldest_needed(snapshot_revision, revision, history)
        stored = StoredFile(
            item["file"],
            fields["path"],
            revision,
            snapshot_revision,
            fields["snapshot_text"],
            [e for e in entries if e.revision > oldest],
            applied,
        )
        return stored.record(room, history)


def safe_url(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}:{parts.port}"
    return parts._replace(netloc=netloc).geturl()


def _pairs(flat: list[Any]) -> dict[str, str]:
    """A Redis HGETALL reply as a dict (Lua hands it over as a flat list)."""
    return {str(flat[i]): str(flat[i + 1]) for i in range(0, len(flat), 2)}


def _encode(write: Write) -> dict[str, Any]:
    if isinstance(write, OpAppended):
        entry = write.entry
        encoded = msgspec.json.encode(
            (entry.revision, entry.client_id, entry.seq, entry.member, entry.op.ops, write.time)
        )
        return {
            "k": "op",
            "room": write.room,
            "file": write.file,
            "revision": entry.revision,
            "client_id": entry.client_id,
            "seq": entry.seq,
            "entry": encoded.decode(),
        }
    if isinstance(write, ChatAppended):
        return {
            "k": "chat",
            "room": write.room,
            "id": write.message.id,
            "keep": write.keep,
            "message": msgspec.json.encode(write.message).decode(),
        }
    if isinstance(write, SnapshotSaved):
        return {
            "k": "snapshot",
            "room": write.room,
            "file": write.file,
            "revision": write.revision,
            "text": write.text,
            "keep_ops": write.keep_ops,
        }
    if isinstance(write, RoomCreated):
        return {"k": "room", "room": write.room, "created_at": write.created_at}
    if isinstance(write, FileCreated):
        return {
            "k": "file",
            "room": write.room,
            "file": write.file,
            "path": write.path,
            "text": write.text,
            "created_at": write.created_at,
        }
    if isinstance(write, FileRenamed):
        return {"k": "rename", "room": write.room, "file": write.file, "path": write.path}
    if isinstance(write, FileDeleted):
        return {"k": "delete", "room": write.room, "file": write.file}
    return {"k": "keys", "room": write.room, "write": write.keys.write, "read": write.keys.read}


__all__ = ["KeysSet", "RedisStore"]
