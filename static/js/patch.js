// What a patch (contract v1.1 in DESIGN.md) does to the state a page holds: pure functions,
// no DOM, shared by GraphSession (session.js) and the unit tests.

// fields that change the drawing's structure (a node's op or label changed by an edit): the
// view builds again rather than updating values
const LAYOUT_FIELDS = ["layer", "x", "y", "points", "op", "label", "inputs", "shape"];

export const edgeKey = (e) => `${e.source}>${e.target}#${e.slot}`;

export function isPatch(body) {
  return body && typeof body === "object" && typeof body.base_version === "number";
}

/** The state a patch leads to from `graph`, and what it touched; null when it cannot apply
 * (an unknown node or edge: the graph's structure changed, ask for the whole state). */
export function applyPatch(graph, patch, index) {
  const touched = { nodes: [], edges: [], layout: false };
  const next = { ...graph };
  for (const [key, value] of Object.entries(patch)) {
    if (key === "nodes" || key === "edges" || key === "base_version" || key === "full") continue;
    next[key] = value;
  }
  if (!("events" in patch)) next.events = [];
  if (patch.order && (patch.order.length !== graph.order.length || patch.order.some((id, i) => id !== graph.order[i]))) return null;
  if ((patch.nodes || []).length) {
    next.nodes = graph.nodes.slice();
    for (const change of patch.nodes) {
      const i = index.nodes.get(change.id);
      if (i === undefined) return null;
      next.nodes[i] = { ...next.nodes[i], ...change };
      touched.nodes.push(change.id);
      if (LAYOUT_FIELDS.some((f) => f in change)) touched.layout = true;
    }
  }
  if ((patch.edges || []).length) {
    next.edges = graph.edges.slice();
    for (const change of patch.edges) {
      const key = edgeKey(change);
      const i = index.edges.get(key);
      if (i === undefined) return null;
      next.edges[i] = { ...next.edges[i], ...change };
      touched.edges.push(key);
      if (LAYOUT_FIELDS.some((f) => f in change)) touched.layout = true;
    }
  }
  return { graph: next, touched };
}

/** Where each node and edge sits in the state's arrays: a patch names them by id. */
export function indexOf(graph) {
  return {
    nodes: new Map(graph.nodes.map((n, i) => [n.id, i])),
    edges: new Map(graph.edges.map((e, i) => [edgeKey(e), i])),
  };
}
