// Where students can reach this server, for the links a teacher shares (the graph page's
// Share dialog, the lesson page's room link, the quiz card): GET /api/server says which
// network addresses it listens on; a page opened on 127.0.0.1 is not one students can open.

import { el } from "./dom.js";

export function isLoopbackHost(host) {
  return host === "localhost" || host === "[::1]" || /^127\./.test(host);
}

/** Base URLs for links, best first: this page's own address when other machines can reach it
 * (it was opened on a network address), then the server's network addresses, else this page's. */
export function shareBases(server) {
  const bases = isLoopbackHost(location.hostname) ? [] : [location.origin];
  for (const url of (server && server.share_urls) || []) if (!bases.includes(url)) bases.push(url);
  if (!bases.length) bases.push(location.origin);
  return bases;
}

/** Where students' devices reach this server: the best of shareBases. */
export const classBase = (server) => shareBases(server)[0];

/** The warning that students cannot open the links (text and nodes), or null. */
export function shareWarning(server, t) {
  if (!server) return null;
  if (server.loopback_only) {
    return [t("share.loopback", { listen: server.listen }), " ", el("code", { text: "stepgrad serve --lan" })];
  }
  if (!server.share_urls.length && isLoopbackHost(location.hostname)) return [t("share.noAddress")];
  return null;
}
