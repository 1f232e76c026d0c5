/**
 * A query as the Dagger SDK sends it, read as what it is: one chain of fields from the root to a leaf,
 * each with its arguments as plain values (`{ container { from (address: "node:22") { withExec (args: ["npm","ci"]) { stdout } } } }`).
 */
import { Kind, parse, type FieldNode, type ValueNode } from 'graphql';

export type ArgValue = string | number | boolean | null | ArgValue[] | { [key: string]: ArgValue };

export interface Step {
  readonly field: string;
  readonly args: Readonly<Record<string, ArgValue>>;
}

/** The chain of one query, root first, leaf last. */
export function parseChain(query: string): Step[] {
  const doc = parse(query);
  const op = doc.definitions[0];
  if (!op || op.kind !== Kind.OPERATION_DEFINITION || doc.definitions.length !== 1)
    throw new Error('expected exactly one operation');
  const steps: Step[] = [];
  let set = op.selectionSet;
  for (;;) {
    if (set.selections.length !== 1) throw new Error(`expected one field per level, got ${set.selections.length}`);
    const sel = set.selections[0]!;
    if (sel.kind !== Kind.FIELD) throw new Error(`unsupported selection ${sel.kind}`);
    const field: FieldNode = sel;
    const args: Record<string, ArgValue> = {};
    for (const a of field.arguments ?? []) args[a.name.value] = valueOf(a.value);
    steps.push({ field: field.name.value, args });
    if (!field.selectionSet) return steps;
    set = field.selectionSet;
  }
}

function valueOf(node: ValueNode): ArgValue {
  switch (node.kind) {
    case Kind.STRING:
    case Kind.ENUM:
      return node.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(node.value);
    case Kind.BOOLEAN:
      return node.value;
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return node.values.map(valueOf);
    case Kind.OBJECT:
      return Object.fromEntries(node.fields.map((f) => [f.name.value, valueOf(f.value)]));
    default:
      throw new Error(`unsupported argument value ${node.kind}`);
  }
}

/** The JSON answer for a chain: the leaf's value nested under every field name. */
export function answerFor(steps: readonly Step[], leaf: unknown): unknown {
  let out: unknown = leaf;
  for (let i = steps.length - 1; i >= 0; i--) out = { [steps[i]!.field]: out };
  return out;
}
