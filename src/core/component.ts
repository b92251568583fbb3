import { z } from 'zod';

/**
 * The one shape every pluggable piece has (sources, stream inputs, stores, scheduler tasks): a
 * kind, the schema of its config, and a factory. Each lives in a file of its own and is listed in
 * its layer's registry; the project schema is assembled from those lists, and nothing dispatches
 * on a kind by hand.
 */
export interface Component<Kind extends string, Config extends z.ZodType, Context, Made> {
  readonly kind: Kind;
  readonly description: string;
  readonly config: Config;
  create(config: z.output<Config>, context: Context): Made;
}

export function defineComponent<Kind extends string, Config extends z.ZodType, Context, Made>(
  component: Component<Kind, Config, Context, Made>,
): Component<Kind, Config, Context, Made> {
  return component;
}

/** Looks a component up by kind; the config was validated against the same list, so it exists. */
export function componentFor<C extends { kind: string }>(list: readonly C[], kind: string): C {
  const found = list.find((c) => c.kind === kind);
  if (!found) throw new Error(`no component of kind '${kind}' (known: ${list.map((c) => c.kind).join(', ')})`);
  return found;
}

/**
 * The config schema of a family of components: a union discriminated by `key` over each
 * component's own schema. A value naming no component fails with the kinds there are; with
 * `shorthand`, a bare kind (`'table'`) stands for `{ [key]: kind }`.
 */
export function componentUnion<const C extends readonly { readonly kind: string; readonly config: z.ZodType }[]>(key: string, list: C) {
  return z.discriminatedUnion(key, list.map((c) => c.config) as unknown as [ConfigOf<C[number]>, ...ConfigOf<C[number]>[]], {
    error: (issue) => {
      if (issue.code !== 'invalid_union' || !('options' in issue)) return undefined;
      const given = (issue.input as Record<string, unknown> | undefined)?.[key];
      return `expected ${key} to be one of ${(issue.options as unknown[]).map((o) => `'${String(o)}'`).join(', ')}${given === undefined ? '' : `, not ${JSON.stringify(given)}`}`;
    },
  });
}

/** A component union that also takes a bare kind (`'table'` for `{ kind: 'table' }`); its output is always the object. */
export function componentUnionWithShorthand<const C extends readonly { readonly kind: string; readonly config: z.ZodType }[]>(key: string, list: C) {
  const union = componentUnion(key, list);
  return z.preprocess((value) => (typeof value === 'string' ? { [key]: value } : value), union) as unknown as z.ZodType<z.output<typeof union>, z.input<typeof union> | C[number]['kind']>;
}

type ConfigOf<C> = C extends { readonly config: infer S extends z.ZodObject } ? S : never;
