// Rooms (contract v1.2): one follow link for a whole lesson. The teacher's lesson page keeps
// a room (made when the lesson starts, its edit token in sessionStorage, so that a reload of
// the tab keeps the class's link) and says what it shows at every step change; followers open
// `/r/{id}` once and hear the room's changes as `event: room`.

import { ApiError, request } from "./api.js";

const ROOM_KEY = (lessonId) => `stepgrad:room:${lessonId}`;

function kept(lessonId) {
  try {
    const saved = JSON.parse(sessionStorage.getItem(ROOM_KEY(lessonId)) || "null");
    return saved && typeof saved.id === "string" && typeof saved.token === "string" ? saved : null;
  } catch {
    return null;
  }
}

function keep(lessonId, room) {
  try {
    sessionStorage.setItem(ROOM_KEY(lessonId), JSON.stringify(room));
  } catch {
    /* private mode: the room lasts as long as the page */
  }
}

/** The teacher's side: the room, and PUT /api/rooms/{id} one call at a time, the newest
 * fields merged into the next call. */
export class RoomSender {
  constructor(lessonId) {
    this.lessonId = lessonId;
    this.room = null; // {id, token}
    this.error = null; // why there is no room (a sentence), or null
    this.pending = null;
    this.sending = null;
    this.ready = this.start();
  }

  async start() {
    const saved = kept(this.lessonId);
    if (saved) {
      try {
        const room = await request("GET", `/api/rooms/${encodeURIComponent(saved.id)}`);
        if (room.lesson === this.lessonId) {
          this.room = saved;
          return this.room;
        }
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404)) {
          this.error = err.message;
          return null;
        }
      }
    }
    try {
      const res = await request("POST", "/api/rooms", { body: { lesson: this.lessonId } });
      this.room = { id: res.id, token: res.edit_token };
      keep(this.lessonId, this.room);
      this.error = null;
    } catch (err) {
      this.error = err.message;
    }
    return this.room;
  }

  get path() {
    return this.room ? `/r/${encodeURIComponent(this.room.id)}` : null;
  }

  /** Say `fields` (step, graph, view, panel); resolves once they reached the server (or
   * could not: a failed call is not retried, the next step says everything again). */
  say(fields) {
    this.pending = { ...(this.pending || {}), ...fields };
    if (!this.sending) this.sending = this.pump();
    return this.sending;
  }

  /** Resolves once everything said so far reached the server (or failed). */
  settled() {
    return this.sending || Promise.resolve();
  }

  async pump() {
    await this.ready;
    while (this.pending) {
      const body = this.pending;
      this.pending = null;
      if (!this.room) continue;
      try {
        await request("PUT", `/api/rooms/${encodeURIComponent(this.room.id)}`, { body, token: this.room.token });
      } catch (err) {
        this.error = err.message;
      }
    }
    this.sending = null;
  }
}

/** A follower's side: `onRoom(room)` on connecting and on every change; `onLive(status)`
 * says "live", "connecting" or "offline". */
export function followRoom(roomId, { onRoom, onLive = () => {} }) {
  const source = new EventSource(`/api/rooms/${encodeURIComponent(roomId)}/events`);
  source.addEventListener("open", () => onLive("live"));
  source.addEventListener("room", (ev) => {
    let room;
    try {
      room = JSON.parse(ev.data);
    } catch {
      return; // a malformed event: the next one says the whole room again
    }
    onRoom(room);
  });
  source.addEventListener("error", () => onLive(source.readyState === EventSource.CLOSED ? "offline" : "connecting"));
  return source;
}

/** GET /api/rooms/{id}: the room now (a follower's first look, and after a reconnection). */
export function readRoom(roomId) {
  return request("GET", `/api/rooms/${encodeURIComponent(roomId)}`);
}
