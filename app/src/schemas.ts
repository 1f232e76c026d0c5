/** JSON schemas for every route's input. Unknown fields are refused (400 "unknown field"), not dropped. */
export const ID_OR_SLUG = { type: 'string', minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9-]+$' } as const;
export const UUID = { type: 'string', format: 'uuid' } as const;
const SLUG = { type: 'string', minLength: 1, maxLength: 100, pattern: '^[a-z0-9]+(-[a-z0-9]+)*$' } as const;
const TAG = { type: 'string', minLength: 1, maxLength: 40, pattern: '^[a-z0-9]+(-[a-z0-9]+)*$' } as const;
const CATEGORY = { type: 'string', minLength: 1, maxLength: 50, pattern: '^[a-z0-9]+(-[a-z0-9]+)*$' } as const;
const CURSOR = { type: 'string', minLength: 1, maxLength: 512, pattern: '^[A-Za-z0-9_-]+$' } as const;
const LIMIT = { type: 'integer', minimum: 1, maximum: 100, default: 20 } as const;

export const idParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: ID_OR_SLUG },
} as const;

export const promptIdParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: UUID },
} as const;

export const searchQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    q: { type: 'string', maxLength: 200 },
    tag: TAG,
    category: CATEGORY,
    limit: LIMIT,
    cursor: CURSOR,
  },
} as const;

const relation = {
  type: 'object',
  required: ['target', 'kind'],
  additionalProperties: false,
  properties: {
    target: ID_OR_SLUG,
    kind: { type: 'string', enum: ['related', 'requires', 'alternative'] },
    // Stored as a `real`: a smaller positive number than this would be refused by Postgres (underflow).
    weight: { type: 'number', minimum: 0.000001, maximum: 1 },
  },
} as const;

const toolFields = {
  name: { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S' },
  slug: SLUG,
  description: { type: 'string', maxLength: 5000 },
  category: CATEGORY,
  tags: { type: 'array', maxItems: 20, uniqueItems: true, items: TAG },
  relations: { type: 'array', maxItems: 50, items: relation },
} as const;

export const createToolBody = {
  type: 'object',
  required: ['name', 'category'],
  additionalProperties: false,
  properties: toolFields,
} as const;

export const patchToolBody = {
  type: 'object',
  minProperties: 1,
  additionalProperties: false,
  properties: toolFields,
} as const;

export const promptsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { toolId: ID_OR_SLUG, limit: LIMIT, cursor: CURSOR },
} as const;

const TITLE = { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S' } as const;
const TEMPLATE = { type: 'string', minLength: 1, maxLength: 10000, pattern: '\\S' } as const;

export const createPromptBody = {
  type: 'object',
  required: ['toolId', 'title', 'template'],
  additionalProperties: false,
  properties: { toolId: ID_OR_SLUG, title: TITLE, template: TEMPLATE },
} as const;

export const patchPromptBody = {
  type: 'object',
  minProperties: 1,
  additionalProperties: false,
  properties: { title: TITLE, template: TEMPLATE },
} as const;

export const MAX_DEPTH = 3;
export const neighbourhoodQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { depth: { type: 'integer', minimum: 1, maximum: MAX_DEPTH, default: 1 } },
} as const;

export const planBody = {
  type: 'object',
  required: ['goal'],
  additionalProperties: false,
  properties: {
    goal: { type: 'string', minLength: 3, maxLength: 500 },
    limit: { type: 'integer', minimum: 1, maximum: 10, default: 5 },
  },
} as const;

export const faultsBody = {
  type: 'object',
  minProperties: 1,
  additionalProperties: false,
  properties: {
    latencyMs: { type: 'integer', minimum: 0, maximum: 60_000 },
    errorRatio: { type: 'number', minimum: 0, maximum: 1 },
    failHealth: { type: 'boolean' },
  },
} as const;
