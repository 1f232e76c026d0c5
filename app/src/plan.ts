/**
 * The planner's pure parts: the words of a goal, and a path through related tools that visits the ranked
 * candidates in order (shortest hops between consecutive ones, edges walked both ways).
 */
import type { GraphEdge, GraphNode, RelationKind } from './repo.js';

export const MAX_GOAL_TERMS = 24;

/** Lowercase alphanumeric words of the goal, de-duplicated, at most MAX_GOAL_TERMS. */
export function goalTerms(goal: string): string[] {
  const words = goal.toLowerCase().match(/[a-z0-9]+/g) ?? [];
  return [...new Set(words.filter((w) => w.length >= 2 && w.length <= 40))].slice(0, MAX_GOAL_TERMS);
}

export interface PathStep {
  id: string;
  slug: string;
  name: string;
  /** The relation that leads here from the previous step (null for the first). */
  via: RelationKind | null;
  /** True when the step is one of the ranked tools, false when it is a tool passed through. */
  candidate: boolean;
}

type Adjacency = Map<string, { to: string; kind: RelationKind }[]>;

function adjacency(edges: readonly GraphEdge[]): Adjacency {
  const adj: Adjacency = new Map();
  const add = (a: string, b: string, kind: RelationKind) =>
    (adj.get(a) ?? adj.set(a, []).get(a)!).push({ to: b, kind });
  for (const e of edges) {
    add(e.source, e.target, e.kind);
    add(e.target, e.source, e.kind);
  }
  return adj;
}

/** Breadth-first shortest path from `from` to `to`; the steps after `from`, or undefined. */
function shortest(
  adj: Adjacency,
  from: string,
  to: string,
  maxHops: number,
): { id: string; via: RelationKind }[] | undefined {
  const prev = new Map<string, { from: string; kind: RelationKind }>();
  let frontier = [from];
  const seen = new Set([from]);
  for (let hop = 0; hop < maxHops && frontier.length > 0; hop++) {
    const next: string[] = [];
    for (const node of frontier) {
      for (const { to: n, kind } of adj.get(node) ?? []) {
        if (seen.has(n)) continue;
        seen.add(n);
        prev.set(n, { from: node, kind });
        if (n === to) {
          const out: { id: string; via: RelationKind }[] = [];
          for (let cur = to; cur !== from;) {
            const p = prev.get(cur)!;
            out.unshift({ id: cur, via: p.kind });
            cur = p.from;
          }
          return out;
        }
        next.push(n);
      }
    }
    frontier = next;
  }
  return undefined;
}

/**
 * Starts at the best candidate and walks to each next candidate that is reachable within `maxHops`;
 * candidates that cannot be reached are left out of the path (they are still in the ranked list).
 */
export function buildPath(
  candidates: readonly string[],
  nodes: readonly GraphNode[],
  edges: readonly GraphEdge[],
  maxHops = 3,
): PathStep[] {
  const first = candidates[0];
  if (!first) return [];
  const info = new Map(nodes.map((n) => [n.id, n]));
  const isCandidate = new Set(candidates);
  const adj = adjacency(edges);
  const step = (id: string, via: RelationKind | null): PathStep => {
    const n = info.get(id);
    return { id, slug: n?.slug ?? '', name: n?.name ?? '', via, candidate: isCandidate.has(id) };
  };
  const path: PathStep[] = [step(first, null)];
  const onPath = new Set([first]);
  let current = first;
  for (const target of candidates.slice(1)) {
    if (onPath.has(target)) continue;
    const hops = shortest(adj, current, target, maxHops);
    if (!hops) continue;
    for (const h of hops) {
      if (onPath.has(h.id)) continue;
      onPath.add(h.id);
      path.push(step(h.id, h.via));
    }
    current = target;
  }
  return path;
}
