"""The class quiz and the teacher's focus on Redis, so that every server process sharing the
store sees the same question, counts the same answers and sends the same focus.

Keys (under the store's prefix), each expiring with the graph's idle window:
- `quiz:<id>`: a hash; `quiz` the question (JSON: id, node, quantity, when opened),
  `status` (open or revealed), `truth` (kept as text: exact), `replaced` the ids of the
  last few questions it replaced (JSON list: a late answer to one gets 409, not 404).
- `quiz:<id>:answers`: a hash, client id -> answer (JSON).
- `focus:<id>`: the teacher's focus (JSON).

Each change of a question is one Lua script, atomic against every other process: an answer
checks the question's id, its status and the cap on answers in the same step as it is kept.
"""

from __future__ import annotations

import json
import time

from stepgrad.app.classroom.quiz import CLOSED, Answer, Quiz, QuizClosed, QuizFull, QuizNotFound
from stepgrad.app.jsonio import dumps
from stepgrad.app.storage.redis_store import PREFIX, RedisStore

REPLACED_KEPT = 8

# KEYS: quiz hash, answers hash; ARGV: new question (JSON), expiry (ms), ids kept
_OPEN = """
local old = redis.call('HGET', KEYS[1], 'quiz')
if old then
  local replaced = cjson.decode(redis.call('HGET', KEYS[1], 'replaced') or '[]')
  table.insert(replaced, 1, cjson.decode(old)['id'])
  while #replaced > tonumber(ARGV[3]) do table.remove(replaced) end
  redis.call('HSET', KEYS[1], 'replaced', cjson.encode(replaced))
end
redis.call('DEL', KEYS[2])
redis.call('HDEL', KEYS[1], 'truth')
redis.call('HSET', KEYS[1], 'quiz', ARGV[1], 'status', 'open')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return old
"""

# KEYS: quiz hash, answers hash; ARGV: quiz id, client, answer (JSON), cap, expiry (ms)
# -> the number of answers, or -1 no such question, -2 replaced, -3 revealed, -4 full
_ANSWER = """
local raw = redis.call('HGET', KEYS[1], 'quiz')
local quiz = raw and cjson.decode(raw)
if not quiz or quiz['id'] ~= ARGV[1] then
  local replaced = cjson.decode(redis.call('HGET', KEYS[1], 'replaced') or '[]')
  for _, id in ipairs(replaced) do if id == ARGV[1] then return -2 end end
  return -1
end
if redis.call('HGET', KEYS[1], 'status') ~= 'open' then return -3 end
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 0
   and redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[4]) then return -4 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return redis.call('HLEN', KEYS[2])
"""

# KEYS: quiz hash; ARGV: truth (text) -> 1, or 0 when there is no question
_REVEAL = """
if redis.call('HEXISTS', KEYS[1], 'quiz') == 0 then return 0 end
redis.call('HSET', KEYS[1], 'status', 'revealed', 'truth', ARGV[1])
return 1
"""

# KEYS: quiz hash, answers hash; ARGV: ids kept -> the question put away (JSON), or nil
_CLOSE = """
local raw = redis.call('HGET', KEYS[1], 'quiz')
if not raw then return nil end
local replaced = cjson.decode(redis.call('HGET', KEYS[1], 'replaced') or '[]')
table.insert(replaced, 1, cjson.decode(raw)['id'])
while #replaced > tonumber(ARGV[1]) do table.remove(replaced) end
redis.call('HSET', KEYS[1], 'replaced', cjson.encode(replaced))
redis.call('HDEL', KEYS[1], 'quiz', 'status', 'truth')
redis.call('DEL', KEYS[2])
return raw
"""


def _meta(quiz: Quiz) -> str:
    return dumps(
        {
            "id": quiz.id,
            "graph_id": quiz.graph_id,
            "node": quiz.node,
            "quantity": quiz.quantity,
            "opened": quiz.opened,
        }
    )


def _quiz(
    raw: str, answers: dict[str, str] | None = None, status: str = "closed", truth=None
) -> Quiz:
    meta = json.loads(raw)
    quiz = Quiz(
        meta["id"],
        meta["graph_id"],
        meta["node"],
        meta["quantity"],
        meta["opened"],
        status,
        None if truth is None else float(truth),
    )
    for client, text in (answers or {}).items():
        a = json.loads(text)
        quiz.answers[client] = Answer(a["value"], a.get("name"), a["at"])
    return quiz


class RedisQuizStore:
    """QuizStore (classroom.quiz) on the Redis of a RedisStore."""

    def __init__(self, store: RedisStore):
        self.redis = store.redis
        self.expiry_ms = int(store.idle_seconds * 1000)
        self._open = self.redis.register_script(_OPEN)
        self._answer = self.redis.register_script(_ANSWER)
        self._reveal = self.redis.register_script(_REVEAL)
        self._close = self.redis.register_script(_CLOSE)

    @staticmethod
    def _keys(graph_id: str) -> list[str]:
        return [f"{PREFIX}quiz:{graph_id}", f"{PREFIX}quiz:{graph_id}:answers"]

    def open(self, quiz: Quiz) -> Quiz | None:
        old = self._open(
            keys=self._keys(quiz.graph_id), args=[_meta(quiz), self.expiry_ms, REPLACED_KEPT]
        )
        return None if old is None else _quiz(old)

    def answer(
        self,
        graph_id: str,
        quiz_id: str,
        client: str,
        value: float,
        name: str | None,
        max_answers: int,
    ) -> int:
        answer = dumps({"value": value, "name": name, "at": time.time()})
        n = int(
            self._answer(
                keys=self._keys(graph_id),
                args=[quiz_id, client, answer, max_answers, self.expiry_ms],
            )
        )
        if n == -1:
            raise QuizNotFound(f"There is no question {quiz_id[:40]!r} on this graph.")
        if n == -2:
            raise QuizClosed(CLOSED)
        if n == -3:
            raise QuizClosed("That question is closed: its answer has been revealed.")
        if n == -4:
            raise QuizFull(f"That question already has {max_answers} answers, as many as it keeps.")
        return n

    def count(self, graph_id: str) -> int:
        quiz_key, answers_key = self._keys(graph_id)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hexists(quiz_key, "quiz")
            pipe.hlen(answers_key)
            exists, n = pipe.execute()
        return int(n) if exists else 0

    def reveal(self, graph_id: str, truth: float) -> Quiz:
        found = self._reveal(keys=self._keys(graph_id)[:1], args=[repr(float(truth))])
        quiz = self.get(graph_id) if found else None
        if quiz is None:  # none, or put away by another process meanwhile
            raise QuizNotFound("There is no question on this graph to reveal.")
        return quiz

    def get(self, graph_id: str) -> Quiz | None:
        quiz_key, answers_key = self._keys(graph_id)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hmget(quiz_key, "quiz", "status", "truth")
            pipe.hgetall(answers_key)
            fields, answers = pipe.execute()
        raw, status, truth = fields
        return None if raw is None else _quiz(raw, answers, status, truth)

    def close(self, graph_id: str) -> Quiz | None:
        raw = self._close(keys=self._keys(graph_id), args=[REPLACED_KEPT])
        return None if raw is None else _quiz(raw)

    def drop(self, graph_id: str) -> None:
        self.redis.delete(*self._keys(graph_id))


class RedisFocusStore:
    """FocusStore (classroom.quiz) on the Redis of a RedisStore."""

    def __init__(self, store: RedisStore):
        self.redis = store.redis
        self.expiry_ms = int(store.idle_seconds * 1000)

    @staticmethod
    def _key(graph_id: str) -> str:
        return f"{PREFIX}focus:{graph_id}"

    def put(self, graph_id: str, focus: dict) -> None:
        self.redis.set(self._key(graph_id), dumps(focus), px=self.expiry_ms)

    def get(self, graph_id: str) -> dict | None:
        raw = self.redis.get(self._key(graph_id))
        return None if raw is None else json.loads(raw)

    def close(self, graph_id: str) -> None:
        self.redis.delete(self._key(graph_id))
