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

/** The families of components a project may add to: each has a registry, a discriminator and a place in the project file. */
export type ComponentFamily = 'source' | 'input' | 'store' | 'materialization' | 'check' | 'task';

/**
 * A component with its family, as every `define…` function makes it (Tributary's own and a
 * project's alike), and `configure()`: its config, typed by its own schema, written where its
 * family goes in the project file (the field naming its kind is filled in).
 */
export type FamilyComponent<F extends ComponentFamily, Key extends string, C extends { readonly kind: string; readonly config: z.ZodType }> = C & {
  readonly family: F;
  configure(options: Omit<z.input<C['config']>, Key>): ProjectComponentConfig<F> & Record<Key, C['kind']>;
};

/** Stamps a component with its family and the field that names its kind in a config. */
export function withFamily<F extends ComponentFamily, Key extends string, C extends { readonly kind: string; readonly config: z.ZodType }>(family: F, key: Key, component: C): FamilyComponent<F, Key, C> {
  return {
    ...component,
    family,
    configure: (options: object) => ({ ...options, [key]: component.kind }) as ProjectComponentConfig<F> & Record<Key, C['kind']>,
  };
}

/**
 * A config written for a project's own component, through its `configure()`: the project file's
 * types accept it where its family goes, and the project schema, built with the component, checks
 * it when the project loads.
 */
export interface ProjectComponentConfig<F extends ComponentFamily> {
  readonly '~family'?: F;
}

/**
 * The config schema of a family of components: a union discriminated by `key` over each
 * component's own schema. A value naming no component fails with the kinds there are.
 */
export function componentUnion<const C extends readonly { readonly kind: string; readonly config: z.ZodType }[], F extends ComponentFamily>(key: string, list: C, _family: F) {
  const union = z.discriminatedUnion(key, list.map((c) => c.config) as unknown as [ConfigOf<C[number]>, ...ConfigOf<C[number]>[]], {
    error: (issue) => {
      // zod types this hook for union issues only; a value that is no object reaches it as invalid_type.
      if ((issue.code as string) === 'invalid_type') return `{ ${key}: ${list.map((c) => `'${c.kind}'`).join(' | ')}, … }`;
      if (issue.code !== 'invalid_union' || !('options' in issue)) return undefined;
      const given = (issue.input as Record<string, unknown> | undefined)?.[key];
      return `expected ${key} to be one of ${(issue.options as unknown[]).map((o) => `'${String(o)}'`).join(', ')}${given === undefined ? '' : `, not ${JSON.stringify(given)}`}`;
    },
  });
  return union as unknown as z.ZodType<z.output<typeof union>, z.input<typeof union> | ProjectComponentConfig<F>>;
}

/** A component union that also takes a bare kind (`'table'` for `{ kind: 'table' }`); its output is always the object. */
export function componentUnionWithShorthand<const C extends readonly { readonly kind: string; readonly config: z.ZodType }[], F extends ComponentFamily>(key: string, list: C, family: F) {
  const union = componentUnion(key, list, family);
  const kinds = list.map((c) => c.kind) as [string, ...string[]];
  const shorthand = z.enum(kinds).transform((kind) => ({ [key]: kind })).pipe(union as unknown as z.ZodType<unknown, Record<string, string>>);
  return z.union([shorthand, union]) as unknown as z.ZodType<z.output<typeof union>, z.input<typeof union> | C[number]['kind']>;
}

type ConfigOf<C> = C extends { readonly config: infer S extends z.ZodObject } ? S : never;

/**
 * A connection URL as a component reads it: `scheme://host:port,host:port/path?options`. Several
 * hosts after one scheme (Kafka's bootstrap list) are no WHATWG URL, so the parts are split here.
 */
export interface ComponentUrl {
  readonly text: string;
  readonly scheme: string;
  readonly hosts: string[];
  /** The path without its leading slash, decoded. */
  readonly path: string;
  readonly options: URLSearchParams;
}

const URL_SHAPE = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)(?:\/([^?#]*))?(?:\?([^#]*))?$/i;

/**
 * A union like componentUnion that also takes a URL: its scheme names the component, whose
 * `fromUrl` turns the rest into its config (`kafka://host:9092/topic` for `{ kind: 'kafka', … }`),
 * so an environment variable can choose where a project reads from.
 */
export function componentUnionWithUrl<
  const C extends readonly { readonly kind: string; readonly config: z.ZodType; readonly fromUrl?: (url: ComponentUrl) => Record<string, unknown> }[],
  F extends ComponentFamily,
>(key: string, list: C, family: F) {
  const union = componentUnion(key, list, family);
  const withUrls = list.filter((c) => c.fromUrl);
  const expected = withUrls.map((c) => `${c.kind}://…`).join(' or ');
  const fromUrl = (value: unknown, ctx: z.RefinementCtx) => {
    if (typeof value !== 'string') return value;
    const parts = URL_SHAPE.exec(value.trim());
    const component = parts && withUrls.find((c) => c.kind === parts[1]!.toLowerCase());
    if (!parts || !component) {
      ctx.addIssue({ code: 'custom', message: `expected a URL of ${expected} (or { ${key}: … })` });
      return z.NEVER;
    }
    try {
      const url: ComponentUrl = { text: value, scheme: component.kind, hosts: parts[2]!.split(',').filter(Boolean), path: decodeURIComponent(parts[3] ?? ''), options: new URLSearchParams(parts[4] ?? '') };
      return { ...component.fromUrl!(url), [key]: component.kind };
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  };
  return z.preprocess(fromUrl, union) as unknown as z.ZodType<z.output<typeof union>, z.input<typeof union> | string>;
}

