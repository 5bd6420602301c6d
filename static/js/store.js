// A page's one state object. Everything that changes it goes through set(patch), which merges
// the patch and asks for one render in the next animation frame however many changes come
// in between (a held key, a burst of events, a training's progress): the page draws at most
// once a frame, from the whole state, as in Red Blob Games' interactive diagrams.

export function createStore(state, render) {
  const subscribers = new Set();
  let pending = false;

  function flush() {
    pending = false;
    render(state);
    for (const fn of subscribers) fn(state);
  }

  function schedule() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      if (pending) flush();
    });
  }

  return {
    state,
    /** Merge `patch` (an object, or a function of the state returning one) and render soon. */
    set(patch) {
      const p = typeof patch === "function" ? patch(state) : patch;
      if (p) Object.assign(state, p);
      schedule();
    },
    /** Merge a change that nothing drawn depends on (what a render consumed, the key of a
     * chart it drew, a cache) without asking for a render: from a render, set() would loop. */
    settle(patch) {
      Object.assign(state, patch);
    },
    /** Render in the next frame without changing anything (the language switched, ...). */
    schedule,
    /** Render now if a render is due (before measuring what the page shows). */
    flush() {
      if (pending) flush();
    },
    subscribe(fn) {
      subscribers.add(fn);
      return () => subscribers.delete(fn);
    },
  };
}

/** A message under the top bar that clears itself: errors stay 6 s, notes 3 s. */
export function messages(store) {
  let timer = null;
  const show = (kind, text, ms, server = false) => {
    store.set({ message: { kind, text, server } });
    clearTimeout(timer);
    timer = setTimeout(() => store.set({ message: null }), ms);
  };
  return {
    error(err) {
      // the API's sentences are English whatever the page's language (ApiError has a status)
      show("error", String(err && err.message ? err.message : err), 6000, Boolean(err && err.status));
    },
    info(text) {
      show("info", text, 3000);
    },
    /** A sentence shown elsewhere on the page (next to a node), read out by screen readers. */
    announce(text) {
      show("announce", text, 6000);
    },
  };
}
