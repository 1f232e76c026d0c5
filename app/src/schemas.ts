/**
 * JSON schemas for every route's input, written with TypeBox: each is plain JSON Schema (ajv validates
 * it as before) and also the TypeScript type of what the route receives (@fastify/type-provider-typebox),
 * so a field is declared once. Unknown fields are refused (400 "unknown field"), not dropped.
 */
import { Type } from 'typebox';

const closed = { additionalProperties: false } as const;
export const ID_OR_SLUG = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9-]+$' });
export const UUID = Type.String({ format: 'uuid' });
const SLUG = Type.String({ minLength: 1, maxLength: 100, pattern: '^[a-z0-9]+(-[a-z0-9]+)*$' });
const TAG = Type.String({ minLength: 1, maxLength: 40, pattern: '^[a-z0-9]+(-[a-z0-9]+)*$' });
const CATEGORY = Type.String({ minLength: 1, maxLength: 50, pattern: '^[a-z0-9]+(-[a-z0-9]+)*$' });
const CURSOR = Type.String({ minLength: 1, maxLength: 512, pattern: '^[A-Za-z0-9_-]+$' });
export const DEFAULT_LIMIT = 20;
const LIMIT = Type.Integer({ minimum: 1, maximum: 100, default: DEFAULT_LIMIT });

export const idParams = Type.Object({ id: ID_OR_SLUG }, closed);
export const promptIdParams = Type.Object({ id: UUID }, closed);

export const searchQuery = Type.Object(
  {
    q: Type.Optional(Type.String({ maxLength: 200 })),
    tag: Type.Optional(TAG),
    category: Type.Optional(CATEGORY),
    limit: Type.Optional(LIMIT),
    cursor: Type.Optional(CURSOR),
  },
  closed,
);

const relation = Type.Object(
  {
    target: ID_OR_SLUG,
    kind: Type.Enum(['related', 'requires', 'alternative'], { type: 'string' }),
    // Stored as a `real`: a smaller positive number than this would be refused by Postgres (underflow).
    weight: Type.Optional(Type.Number({ minimum: 0.000001, maximum: 1 })),
  },
  closed,
);

const NAME = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' });
const DESCRIPTION = Type.String({ maxLength: 5000 });
const TAGS = Type.Array(TAG, { maxItems: 20, uniqueItems: true });
const RELATIONS = Type.Array(relation, { maxItems: 50 });

export const createToolBody = Type.Object(
  {
    name: NAME,
    slug: Type.Optional(SLUG),
    description: Type.Optional(DESCRIPTION),
    category: CATEGORY,
    tags: Type.Optional(TAGS),
    relations: Type.Optional(RELATIONS),
  },
  closed,
);
export const patchToolBody = Type.Object(
  {
    name: Type.Optional(NAME),
    slug: Type.Optional(SLUG),
    description: Type.Optional(DESCRIPTION),
    category: Type.Optional(CATEGORY),
    tags: Type.Optional(TAGS),
    relations: Type.Optional(RELATIONS),
  },
  { ...closed, minProperties: 1 },
);

export const promptsQuery = Type.Object(
  { toolId: Type.Optional(ID_OR_SLUG), limit: Type.Optional(LIMIT), cursor: Type.Optional(CURSOR) },
  closed,
);

const TITLE = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' });
const TEMPLATE = Type.String({ minLength: 1, maxLength: 10000, pattern: '\\S' });

export const createPromptBody = Type.Object({ toolId: ID_OR_SLUG, title: TITLE, template: TEMPLATE }, closed);
export const patchPromptBody = Type.Object(
  { title: Type.Optional(TITLE), template: Type.Optional(TEMPLATE) },
  { ...closed, minProperties: 1 },
);

export const MAX_DEPTH = 3;
export const DEFAULT_DEPTH = 1;
export const neighbourhoodQuery = Type.Object(
  { depth: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_DEPTH, default: DEFAULT_DEPTH })) },
  closed,
);

export const DEFAULT_PLAN_LIMIT = 5;
export const planBody = Type.Object(
  {
    goal: Type.String({ minLength: 3, maxLength: 500 }),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10, default: DEFAULT_PLAN_LIMIT })),
  },
  closed,
);

export const faultsBody = Type.Object(
  {
    latencyMs: Type.Optional(Type.Number({ minimum: 0, maximum: 60_000 })),
    latencyPath: Type.Optional(Type.String({ maxLength: 200, pattern: '^(/[^\\s]*)?$' })),
    latencyKind: Type.Optional(Type.Union([Type.Literal('sleep'), Type.Literal('cpu')])),
    errorRatio: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    failHealth: Type.Optional(Type.Boolean()),
    /** API requests throw an unhandled error (a 500), as a bug would. */
    crash: Type.Optional(Type.Boolean()),
  },
  { ...closed, minProperties: 1 },
);
