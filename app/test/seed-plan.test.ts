import { describe, expect, it } from 'vitest';
import { generateSeed, MAX_SEED_COUNT } from '../src/seed-data.js';
import { parseSeedArgs } from '../src/seed.js';
import { buildPath, goalTerms } from '../src/plan.js';
import type { GraphEdge, GraphNode } from '../src/repo.js';

describe('seed data', () => {
  it('is deterministic, unique, and a smaller seed is a prefix of a larger one', () => {
    const a = generateSeed(300);
    expect(generateSeed(300)).toEqual(a);
    expect(new Set(a.tools.map((t) => t.slug)).size).toBe(300);
    const big = generateSeed(1000);
    expect(big.tools.slice(0, 300)).toEqual(a.tools);
    const ids = new Set(a.tools.map((t) => t.id));
    expect(a.relations.every((r) => ids.has(r.sourceId) && ids.has(r.targetId) && r.sourceId !== r.targetId)).toBe(
      true,
    );
    expect(a.prompts.every((p) => ids.has(p.toolId))).toBe(true);
  });

  it('parses --count and refuses bad values', () => {
    expect(parseSeedArgs([])).toEqual({ count: 200 });
    expect(parseSeedArgs(['--count', '10000'])).toEqual({ count: 10000 });
    expect(parseSeedArgs(['--count=5'])).toEqual({ count: 5 });
    expect(parseSeedArgs(['--count', 'ten'])).toHaveProperty('usage');
    expect(parseSeedArgs(['--count', String(MAX_SEED_COUNT + 1)])).toHaveProperty('usage');
    expect(parseSeedArgs(['--force'])).toHaveProperty('usage');
  });
});

describe('planner', () => {
  it('extracts searchable words', () => {
    expect(goalTerms('Open a GitHub issue; open it NOW!')).toEqual(['open', 'github', 'issue', 'it', 'now']);
    expect(goalTerms('!!!')).toEqual([]);
  });

  const node = (id: string): GraphNode => ({ id, slug: id, name: id.toUpperCase(), depth: 0 });
  const edge = (source: string, target: string, kind: GraphEdge['kind'] = 'related'): GraphEdge => ({
    source,
    target,
    kind,
    weight: 1,
  });

  it('walks the shortest hops between consecutive candidates, edges both ways', () => {
    const nodes = ['a', 'b', 'c', 'x', 'y'].map(node);
    const edges = [edge('a', 'x', 'requires'), edge('b', 'x'), edge('c', 'y', 'alternative'), edge('y', 'b')];
    const path = buildPath(['a', 'b', 'c'], nodes, edges);
    expect(path.map((s) => [s.id, s.via, s.candidate])).toEqual([
      ['a', null, true],
      ['x', 'requires', false],
      ['b', 'related', true],
      ['y', 'related', false],
      ['c', 'alternative', true],
    ]);
  });

  it('skips unreachable candidates and bounds the hops', () => {
    const nodes = ['a', 'b', 'c', 'd', 'e'].map(node);
    const chain = [edge('a', 'b'), edge('b', 'c'), edge('c', 'd'), edge('d', 'e')];
    expect(buildPath(['a', 'e'], nodes, chain, 3).map((s) => s.id)).toEqual(['a']);
    expect(buildPath(['a', 'e'], nodes, chain, 4).map((s) => s.id)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(buildPath([], nodes, chain)).toEqual([]);
  });
});
