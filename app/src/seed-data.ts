/**
 * Deterministic generator of plausible tools, prompts and relations. Pure: the same count gives the
 * same rows (ids derive from slugs), so re-seeding is a no-op and tests can name seeded tools.
 */
import { createHash } from 'node:crypto';
import type { PromptFields, RelationKind, ToolFields } from './repo.js';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

export type SeedTool = ToolFields;
export type SeedPrompt = PromptFields;
export interface SeedRelation {
  sourceId: string;
  targetId: string;
  kind: RelationKind;
  weight: number;
}
export interface SeedData {
  tools: SeedTool[];
  prompts: SeedPrompt[];
  relations: SeedRelation[];
}

/** A UUID (v4 layout) derived from a name, so the same tool always gets the same id. */
export function stableUuid(name: string): string {
  const h = createHash('sha256').update(name).digest();
  h[6] = (h[6]! & 0x0f) | 0x40;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Seeded uniform numbers in [0, 1) from pure-rand (xoroshiro128+): the same seed, the same seed data. */
export function prng(seed: number): () => number {
  const rng = xoroshiro128plus(seed);
  return () => uniformFloat64(rng);
}

const SERVICES: readonly (readonly [string, string, string])[] = [
  ['github', 'GitHub', 'source-control'],
  ['gitlab', 'GitLab', 'source-control'],
  ['bitbucket', 'Bitbucket', 'source-control'],
  ['jira', 'Jira', 'project-management'],
  ['linear', 'Linear', 'project-management'],
  ['asana', 'Asana', 'project-management'],
  ['trello', 'Trello', 'project-management'],
  ['slack', 'Slack', 'messaging'],
  ['discord', 'Discord', 'messaging'],
  ['teams', 'Microsoft Teams', 'messaging'],
  ['email', 'Email', 'messaging'],
  ['postgres', 'Postgres', 'database'],
  ['mysql', 'MySQL', 'database'],
  ['mongodb', 'MongoDB', 'database'],
  ['redis', 'Redis', 'database'],
  ['s3', 'Amazon S3', 'storage'],
  ['gcs', 'Google Cloud Storage', 'storage'],
  ['drive', 'Google Drive', 'storage'],
  ['dropbox', 'Dropbox', 'storage'],
  ['kubernetes', 'Kubernetes', 'infrastructure'],
  ['docker', 'Docker', 'infrastructure'],
  ['terraform', 'Terraform', 'infrastructure'],
  ['aws', 'AWS', 'infrastructure'],
  ['sentry', 'Sentry', 'observability'],
  ['datadog', 'Datadog', 'observability'],
  ['grafana', 'Grafana', 'observability'],
  ['pagerduty', 'PagerDuty', 'observability'],
  ['notion', 'Notion', 'documents'],
  ['confluence', 'Confluence', 'documents'],
  ['gdocs', 'Google Docs', 'documents'],
  ['sheets', 'Google Sheets', 'documents'],
  ['calendar', 'Google Calendar', 'productivity'],
  ['zoom', 'Zoom', 'productivity'],
  ['stripe', 'Stripe', 'payments'],
  ['shopify', 'Shopify', 'commerce'],
  ['salesforce', 'Salesforce', 'crm'],
  ['hubspot', 'HubSpot', 'crm'],
  ['zendesk', 'Zendesk', 'support'],
  ['jenkins', 'Jenkins', 'ci-cd'],
  ['circleci', 'CircleCI', 'ci-cd'],
];
const VERBS: readonly (readonly [string, string])[] = [
  ['create', 'Create'],
  ['get', 'Get'],
  ['list', 'List'],
  ['search', 'Search'],
  ['update', 'Update'],
  ['delete', 'Delete'],
  ['export', 'Export'],
  ['import', 'Import'],
  ['watch', 'Watch'],
  ['summarize', 'Summarize'],
  ['sync', 'Sync'],
  ['archive', 'Archive'],
];
const OBJECTS: readonly (readonly [string, string])[] = [
  ['issue', 'Issue'],
  ['pull-request', 'Pull Request'],
  ['comment', 'Comment'],
  ['message', 'Message'],
  ['channel', 'Channel'],
  ['file', 'File'],
  ['record', 'Record'],
  ['report', 'Report'],
  ['test-report', 'Test Report'],
  ['build', 'Build'],
  ['deployment', 'Deployment'],
  ['alert', 'Alert'],
  ['incident', 'Incident'],
  ['user', 'User'],
  ['team', 'Team'],
  ['document', 'Document'],
  ['page', 'Page'],
  ['table', 'Table'],
  ['query', 'Query'],
  ['dashboard', 'Dashboard'],
  ['event', 'Event'],
  ['invoice', 'Invoice'],
  ['customer', 'Customer'],
  ['ticket', 'Ticket'],
  ['release', 'Release'],
  ['branch', 'Branch'],
  ['commit', 'Commit'],
  ['log', 'Log'],
  ['metric', 'Metric'],
  ['secret', 'Secret'],
];
const PURPOSES = [
  'when triaging failures',
  'to keep a team informed',
  'during an incident',
  'for a weekly report',
  'before a release',
  'after a failing test run',
  'to automate a manual chore',
  'when onboarding a teammate',
];

/** The full combination space, in a fixed shuffled order (Fisher-Yates with a fixed seed). */
function combinations(): [number, number, number][] {
  const all: [number, number, number][] = [];
  for (let s = 0; s < SERVICES.length; s++)
    for (let v = 0; v < VERBS.length; v++) for (let o = 0; o < OBJECTS.length; o++) all.push([s, v, o]);
  const rand = prng(42);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  // The tools a typical goal needs come first, so even a small seed can plan "open a github issue from a
  // failing test report" (the latency gate's plan scenario).
  const first: [string, string, string][] = [
    ['github', 'get', 'issue'],
    ['github', 'create', 'issue'],
    ['github', 'search', 'issue'],
    ['jenkins', 'get', 'test-report'],
    ['circleci', 'summarize', 'test-report'],
    ['github', 'get', 'build'],
    ['slack', 'create', 'message'],
    ['jira', 'create', 'issue'],
    ['github', 'list', 'issue'],
    ['gitlab', 'create', 'issue'],
    ['sentry', 'get', 'incident'],
  ];
  const idx = (a: readonly (readonly [string, ...string[]])[], k: string) => a.findIndex((x) => x[0] === k);
  const head = first.map(([s, v, o]) => [idx(SERVICES, s), idx(VERBS, v), idx(OBJECTS, o)] as [number, number, number]);
  const key = (c: [number, number, number]) => c.join('.');
  const headKeys = new Set(head.map(key));
  return [...head, ...all.filter((c) => !headKeys.has(key(c)))];
}

const QUALIFIERS: readonly (readonly [string, string])[] = [
  ['enterprise', 'Enterprise'],
  ['self-hosted', 'Self-Hosted'],
  ['eu', 'EU'],
  ['us', 'US'],
  ['apac', 'APAC'],
  ['sandbox', 'Sandbox'],
  ['legacy', 'Legacy'],
  ['batch', 'Batch'],
];

const COMBINATIONS = SERVICES.length * VERBS.length * OBJECTS.length;
/**
 * Every service x verb x object once, then again per qualifier ("GitHub Create Issue (EU)"), so a
 * catalogue of 100,000+ tools can be seeded for scale benchmarks; the first 14,400 are unqualified.
 */
export const MAX_SEED_COUNT = COMBINATIONS * (1 + QUALIFIERS.length);

interface Combo {
  readonly s: number;
  readonly v: number;
  readonly o: number;
  /** Index into QUALIFIERS, or -1 for the plain tool. */
  readonly q: number;
}

function combos(count: number): Combo[] {
  const base = combinations();
  const out: Combo[] = [];
  for (let i = 0; i < count; i++) {
    const [s, v, o] = base[i % COMBINATIONS]!;
    out.push({ s, v, o, q: Math.floor(i / COMBINATIONS) - 1 });
  }
  return out;
}

export function generateSeed(count: number): SeedData {
  if (!Number.isInteger(count) || count < 0 || count > MAX_SEED_COUNT) {
    throw new RangeError(`count must be an integer between 0 and ${MAX_SEED_COUNT}`);
  }
  const all = combos(count);
  const { tools, prompts } = toolsAndPrompts(all);
  return { tools, prompts, relations: relations(all, tools) };
}

/** The words of one combination: service, verb, object and (when qualified) qualifier. */
interface Words {
  readonly sKey: string;
  readonly sName: string;
  readonly category: string;
  readonly vKey: string;
  readonly vName: string;
  readonly oKey: string;
  readonly oName: string;
  readonly qKey: string | undefined;
  readonly qName: string | undefined;
}

function wordsOf({ s, v, o, q }: Combo): Words {
  const [sKey, sName, category] = SERVICES[s]!;
  const [vKey, vName] = VERBS[v]!;
  const [oKey, oName] = OBJECTS[o]!;
  const [qKey, qName] = q >= 0 ? QUALIFIERS[q]! : [undefined, undefined];
  return { sKey, sName, category, vKey, vName, oKey, oName, qKey, qName };
}

/** One tool and its prompts per combination, drawing a purpose and a prompt count from one seeded stream. */
function toolsAndPrompts(all: readonly Combo[]): Pick<SeedData, 'tools' | 'prompts'> {
  const rand = prng(7);
  const tools: SeedTool[] = [];
  const prompts: SeedPrompt[] = [];
  for (const combo of all) {
    const w = wordsOf(combo);
    const purpose = PURPOSES[Math.floor(rand() * PURPOSES.length)]!;
    const tool = toolOf(w, purpose);
    tools.push(tool);
    const nPrompts = 1 + Math.floor(rand() * 3);
    for (let p = 0; p < nPrompts; p++) prompts.push(promptOf(tool, w, purpose, p));
  }
  return { tools, prompts };
}

function toolOf(w: Words, purpose: string): SeedTool {
  const { sKey, sName, category, vKey, vName, oKey, oName, qKey, qName } = w;
  const slug = `${sKey}-${vKey}-${oKey}${qKey ? `-${qKey}` : ''}`;
  return {
    id: stableUuid(`tool:${slug}`),
    slug,
    name: `${sName} ${vName} ${oName}${qName ? ` (${qName})` : ''}`,
    description: `${vName} a ${oName.toLowerCase()} in ${sName}${qName ? ` ${qName}` : ''} through its API, ${purpose}.`,
    category,
    tags: qKey ? [sKey, vKey, oKey, qKey] : [sKey, vKey, oKey],
  };
}

/** The tool's prompt number `p`: the first says what it does, the others add the purpose as context. */
function promptOf(tool: SeedTool, { sName, vKey, vName, oName }: Words, purpose: string, p: number): SeedPrompt {
  return {
    id: stableUuid(`prompt:${tool.slug}:${p}`),
    toolId: tool.id,
    title: p === 0 ? `${vName} ${oName.toLowerCase()} with ${sName}` : `${vName} ${oName.toLowerCase()} ${purpose}`,
    template:
      `Use ${sName} to ${vKey} the ${oName.toLowerCase()} described here: {{input}}. ${p > 0 ? `Context: ${purpose}.` : ''}`.trim(),
  };
}

/** A tool's group (same service, or same verb and object), in generation order, and how many come before it. */
interface Group {
  readonly list: readonly SeedTool[];
  readonly before: number;
}

function groupsBy<K>(tools: readonly SeedTool[], keyOf: (i: number) => K): Group[] {
  const lists = new Map<K, SeedTool[]>();
  return tools.map((tool, i) => {
    const key = keyOf(i);
    const list = lists.get(key) ?? lists.set(key, []).get(key)!;
    list.push(tool);
    return { list, before: list.length - 1 };
  });
}

/** One of the tools before this one in its group, chosen by `x` in [0, 1); none when it is the first. */
const pick = ({ list, before }: Group, x: number) => (before > 0 ? list[Math.floor(x * before)] : undefined);

const round2 = (x: number) => Math.round(x * 100) / 100;

/** Relations without duplicates or self-loops, in the order they are added. */
class RelationList {
  readonly list: SeedRelation[] = [];
  private readonly seen = new Set<string>();

  add(source: SeedTool, target: SeedTool | undefined, kind: SeedRelation['kind'], weight: number): void {
    if (!target || target.id === source.id) return;
    const k = `${source.id}|${target.id}|${kind}`;
    if (this.seen.has(k)) return;
    this.seen.add(k);
    this.list.push({ sourceId: source.id, targetId: target.id, kind, weight });
  }
}

/** Edges only point at tools generated earlier, so a larger seed is a superset of a smaller one. */
function relations(all: readonly Combo[], tools: readonly SeedTool[]): SeedRelation[] {
  const sameService = groupsBy(tools, (i) => all[i]!.s);
  const sameVerbObject = groupsBy(tools, (i) => `${all[i]!.v}.${all[i]!.o}`);
  const position = new Map(tools.map((t, i) => [t.slug, i]));
  const out = new RelationList();
  for (const [i, { s, v, o }] of all.entries()) {
    const tool = tools[i]!;
    const service = sameService[i]!;
    const r = prng(i + 1000);
    out.add(tool, pick(service, r()), 'related', round2(0.5 + r() * 0.5));
    out.add(tool, pick(service, r()), 'related', round2(0.3 + r() * 0.5));
    if (VERBS[v]![0] !== 'get') out.add(tool, getterOf(tools, position, i, s, o, service), 'requires', 1);
    out.add(tool, pick(sameVerbObject[i]!, r()), 'alternative', 0.8);
  }
  return out.list;
}

/**
 * Acting on an object needs reading it first: "update issue" requires "get issue" of the same service when
 * that came earlier, else the first earlier getter of the service.
 */
function getterOf(
  tools: readonly SeedTool[],
  position: ReadonlyMap<string, number>,
  i: number,
  s: number,
  o: number,
  { list, before }: Group,
): SeedTool | undefined {
  const at = position.get(`${SERVICES[s]![0]}-get-${OBJECTS[o]![0]}`);
  if (at !== undefined && at < i) return tools[at];
  for (let k = 0; k < before; k++) if (list[k]!.tags[1] === 'get') return list[k];
  return undefined;
}
