import type { z } from 'zod';

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
