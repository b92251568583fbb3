import { Environment, Interpreter, parse, tokenize } from '@huggingface/jinja';

/**
 * dbt's Jinja is Jinja2 running over Python values: templates call `list.append`, `dict.update`,
 * `str.format`, print `True` and `None`, and dbt adds `{% do %}` and `return()`. @huggingface/jinja
 * (unmodified, pinned) parses all of Jinja2's syntax dbt packages use but models JavaScript-ish
 * values; this file is the layer that gives it Python's: source rewrites for the few statements
 * its closed parser does not know, Python methods and filters, Python printing, and conversion
 * between Tributary's JavaScript values (dbt's context) and the engine's runtime values.
 *
 * Nothing here patches the library's prototypes: the additions live in an Interpreter subclass,
 * so another user of the library in the same process sees it unchanged.
 */

/** A runtime value of @huggingface/jinja (its classes are not exported; their shape is). */
export interface Value {
  type: string;
  value: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- each subclass holds a different JavaScript value
  __bool__(): { value: boolean };
  readonly builtins: ReadonlyMap<string, Value>;
  toString(): string;
}
type ValueClass<T = any> = new (value: T) => Value; // eslint-disable-line @typescript-eslint/no-explicit-any
type Fn = (args: Value[], scope: Environment) => Value;

// The library exports no value classes; each one is taken from a value the engine itself makes.
const made = (v: unknown) => new Environment().set('v', v) as unknown as Value;
function runOnce(template: string, vars: Record<string, Value> = {}): Environment {
  const env = new Environment();
  for (const [k, v] of Object.entries(vars)) env.setVariable(k, v as never);
  new Interpreter(env).run(parse(tokenize(template)));
  return env;
}
export const IntegerValue = made(1).constructor as ValueClass<number>;
export const FloatValue = made(1.5).constructor as ValueClass<number>;
export const StringValue = made('').constructor as ValueClass<string>;
export const BooleanValue = made(true).constructor as ValueClass<boolean>;
export const ArrayValue = made([]).constructor as ValueClass<Value[]>;
export const ObjectValue = made({}).constructor as ValueClass<Map<string, Value>>;
export const NullValue = made(null).constructor as ValueClass<null>;
export const UndefinedValue = made(undefined).constructor as ValueClass<undefined>;
export const FunctionValue = made(() => 0).constructor as ValueClass<Fn>;
const RuntimeValue = Object.getPrototypeOf(IntegerValue.prototype).constructor as ValueClass;
/** x is an instance of the class (a boolean, not a type guard: every runtime value has the one type Value). */
const is = (v: unknown, cls: abstract new (...a: never[]) => unknown): boolean => v instanceof cls;
let keywordsClass: ValueClass<Map<string, Value>> | undefined;
const captured = runOnce('{% set t = (1, 2) %}{% set n = namespace() %}{{ f(a=1) }}', {
  f: new FunctionValue((args) => {
    keywordsClass = args.at(-1)!.constructor as ValueClass<Map<string, Value>>;
    return new NullValue(null);
  }),
});
export const TupleValue = captured.lookupVariable('t').constructor as unknown as ValueClass<Value[]>;
const NamespaceValue = captured.lookupVariable('n').constructor as unknown as ValueClass<Map<string, Value>>;
export const KeywordArgumentsValue = keywordsClass!;
/**
 * A Python tuple. The engine's own TupleValue is refused by `for k, v in …` and `set a, b = …`,
 * which unpack only values typed ArrayValue; this one is typed so and still prints as a tuple.
 */
class Tuple extends TupleValue {
  constructor(items: Value[]) {
    super(items);
    this.type = 'ArrayValue';
  }
}

/** Python's set: its items once each, equal to another set with the same items in any order. */
class PySet extends ArrayValue {
  constructor(items: Value[]) {
    const seen = new Map<string, Value>();
    for (const item of items) if (!seen.has(pyRepr(item))) seen.set(pyRepr(item), item);
    super([...seen.values()]);
  }
}

export const isValue = (v: unknown): v is Value => v instanceof RuntimeValue;
const NONE = () => new NullValue(null);
const str = (s: string) => new StringValue(s);
const num = (n: number) => (Number.isInteger(n) ? new IntegerValue(n) : new FloatValue(n));
const isList = (v: Value) => is(v, ArrayValue);
const isDict = (v: Value) => is(v, ObjectValue) && !(is(v, HostValue));

/** `return(x)` inside a macro: the macro's value is x itself, as dbt's MacroReturn makes it. */
export class MacroReturn {
  constructor(readonly value: Value) {}
}

/** The positional and keyword arguments of a call as the engine passes them (keywords last, in one value). */
export function argsOf(args: Value[]): [Value[], Map<string, Value>] {
  const last = args.at(-1);
  return last && is(last, KeywordArgumentsValue) ? [args.slice(0, -1), last.value as Map<string, Value>] : [args, new Map()];
}

// ---------------------------------------------------------------------------------------------
// JavaScript values (dbt's context, vars from YAML) <-> runtime values

/**
 * A JavaScript object seen from a template with its attributes read when used: `this.identifier`
 * changes with the node being rendered, and a Relation prints as its own toString().
 */
class HostMap extends Map<string, Value> {
  constructor(private readonly host: object) {
    super();
  }
  private names(): string[] {
    const names = new Set<string>();
    for (let o: object | null = this.host; o && o !== Object.prototype && o !== Function.prototype; o = Object.getPrototypeOf(o) as object | null) {
      for (const n of Object.getOwnPropertyNames(o)) if (n !== 'constructor' && n !== 'toString' && !(typeof this.host === 'function' && ['length', 'name', 'prototype', 'arguments', 'caller'].includes(n))) names.add(n);
    }
    return [...names];
  }
  override get(key: string): Value | undefined {
    if (!this.names().includes(key)) return undefined;
    const found = (this.host as Record<string, unknown>)[key];
    return toRuntime(typeof found === 'function' ? (found as (...a: unknown[]) => unknown).bind(this.host) : found);
  }
  override has(key: string): boolean {
    return this.names().includes(key);
  }
  override get size(): number {
    return this.names().length;
  }
  override *entries(): MapIterator<[string, Value]> {
    for (const n of this.names()) yield [n, this.get(n)!];
  }
  override *keys(): MapIterator<string> {
    yield* this.names();
  }
  override *values(): MapIterator<Value> {
    for (const n of this.names()) yield this.get(n)!;
  }
  override [Symbol.iterator]() {
    return this.entries();
  }
}

class HostValue extends ObjectValue {
  constructor(readonly host: object) {
    super(new HostMap(host));
  }
  override toString(): string {
    return String(this.host);
  }
}

const isPlainData = (v: object) => {
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) return false;
  return Object.values(Object.getOwnPropertyDescriptors(v)).every((d) => !d.get);
};

/** A JavaScript function as a template calls it: keyword arguments arrive as a last object flagged `__keywords`. */
function fromFunction(fn: (...args: unknown[]) => unknown): Value {
  const value = new FunctionValue((args) => {
    const [positional, keywords] = argsOf(args);
    const js = positional.map(toJs);
    if (keywords.size) js.push({ ...Object.fromEntries([...keywords].map(([k, v]) => [k, toJs(v)])), __keywords: true });
    return toRuntime(fn(...js) ?? null);
  });
  // A function's own properties are its attributes (config.get, config.require).
  if (Object.keys(fn).length) Object.defineProperty(value, 'builtins', { value: new HostMap(fn) });
  return value;
}

export function toRuntime(v: unknown): Value {
  if (isValue(v)) return v;
  switch (typeof v) {
    case 'undefined':
      return new UndefinedValue(undefined);
    case 'number':
      return num(v);
    case 'bigint':
      return new IntegerValue(Number(v));
    case 'string':
      return str(v);
    case 'boolean':
      return new BooleanValue(v);
    case 'function':
      return fromFunction(v as (...args: unknown[]) => unknown);
    case 'object': {
      if (v === null) return NONE();
      if (Array.isArray(v)) {
        const list = new ArrayValue(Array.from(v, toRuntime));
        // A sequence with methods of its own (a result table's columns: items()) keeps them.
        if (Object.getPrototypeOf(v) !== Array.prototype) Object.defineProperty(list, 'builtins', { value: new HostMap(v) });
        return list;
      }
      if (v instanceof Map) return new ObjectValue(new Map([...v].map(([k, x]) => [String(k), toRuntime(x)])));
      if (v instanceof Date) return str(v.toISOString());
      // Data (vars from YAML, keyword arguments) becomes a real dict; objects with behaviour stay live.
      if (isPlainData(v)) return new ObjectValue(new Map(Object.entries(v).map(([k, x]) => [k, toRuntime(x)])));
      return new HostValue(v);
    }
    default:
      return str(String(v));
  }
}

export function toJs(v: Value): unknown {
  if (is(v, HostValue)) return (v as HostValue).host;
  if (is(v, ArrayValue)) return (v.value as Value[]).map(toJs);
  if (is(v, ObjectValue) || is(v, NamespaceValue)) return Object.fromEntries([...(v.value as Map<string, Value>)].map(([k, x]) => [k, toJs(x)]));
  if (is(v, FunctionValue)) return v;
  return v.value;
}

// ---------------------------------------------------------------------------------------------
// Python's printing

/** str(x) in Python: what `{{ x }}` prints. */
export function pyStr(v: Value): string {
  if (is(v, StringValue)) return v.value as string;
  return pyRepr(v);
}

/** repr(x) in Python: how lists and dicts print their items. */
export function pyRepr(v: Value): string {
  if (is(v, StringValue)) {
    const s = v.value as string;
    return s.includes("'") && !s.includes('"') ? `"${s}"` : `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
  }
  if (is(v, BooleanValue)) return v.value ? 'True' : 'False';
  if (is(v, NullValue)) return 'None';
  if (is(v, UndefinedValue)) return '';
  if (is(v, FloatValue)) return v.toString();
  if (is(v, HostValue)) return v.toString();
  if (is(v, TupleValue)) {
    const items = (v.value as Value[]).map(pyRepr);
    return `(${items.join(', ')}${items.length === 1 ? ',' : ''})`;
  }
  if (v instanceof PySet) return v.value.length ? `{${(v.value as Value[]).map(pyRepr).join(', ')}}` : 'set()';
  if (is(v, ArrayValue)) return `[${(v.value as Value[]).map(pyRepr).join(', ')}]`;
  if (is(v, ObjectValue)) return `{${[...(v.value as Map<string, Value>)].map(([k, x]) => `${pyRepr(str(k))}: ${pyRepr(x)}`).join(', ')}}`;
  if (is(v, NamespaceValue)) return `<Namespace ${[...(v.value as Map<string, Value>)].map(([k, x]) => `${k}=${pyRepr(x)}`).join(', ')}>`;
  if (is(v, FunctionValue)) return '<function>';
  return String(v.value);
}

/** Python's operator methods of a context object (`date - timedelta`, `d1 < d2`), tried left then right as Python does. */
const OPERATORS: Record<string, [string, string?]> = { '+': ['__add__', '__radd__'], '-': ['__sub__', '__rsub__'], '<': ['__lt__', '__gt__'], '>': ['__gt__', '__lt__'], '<=': ['__le__', '__ge__'], '>=': ['__ge__', '__le__'], '==': ['__eq__', '__eq__'] };
function hostOperator(op: string, left: Value, right: Value): Value | undefined {
  const [method, reflected] = OPERATORS[op] ?? [];
  for (const [self, other, name] of [[left, right, method], [right, left, reflected]] as const) {
    if (!name || !is(self, HostValue)) continue;
    const fn = ((self as HostValue).host as Record<string, unknown>)[name];
    const answer = typeof fn === 'function' ? (fn as (x: unknown) => unknown).call((self as HostValue).host, toJs(other)) : undefined;
    if (answer !== undefined) return toRuntime(answer);
  }
  return undefined;
}

const same = (a: Value, b: Value): boolean => {
  const equal = hostOperator('==', a, b);
  if (equal) return equal.value === true;
  if (a instanceof PySet || b instanceof PySet) {
    return a instanceof PySet && b instanceof PySet && a.value.length === b.value.length && (a.value as Value[]).every((x) => (b.value as Value[]).some((y) => same(x, y)));
  }
  if (is(a, ArrayValue) && is(b, ArrayValue)) return a.value.length === b.value.length && (a.value as Value[]).every((x, i) => same(x, (b.value as Value[])[i]!));
  if (is(a, NullValue) || is(b, NullValue)) return is(a, NullValue) && is(b, NullValue);
  return a.value === b.value;
};

// ---------------------------------------------------------------------------------------------
// Python methods the engine lacks (or has with other semantics), by the receiver's type

type Method = (self: Value, args: Value[], kw: Map<string, Value>) => Value;

const stripChars = (side: 'both' | 'l' | 'r'): Method => (self, [chars]) => {
  const set = chars && !(is(chars, NullValue)) ? (chars.value as string).replace(/[-\]\\^]/g, '\\$&') : '\\s';
  let s = self.value as string;
  if (side !== 'r') s = s.replace(new RegExp(`^[${set}]+`), '');
  if (side !== 'l') s = s.replace(new RegExp(`[${set}]+$`), '');
  return str(s);
};

/** str.format: `{}`, `{0}`, `{name}` (no format specs). */
const formatString = (template: string, args: Value[], kw: Map<string, Value>) => {
  let i = 0;
  return template.replace(/\{\{|\}\}|\{(\w*)\}/g, (whole, n: string | undefined) => {
    if (whole === '{{') return '{';
    if (whole === '}}') return '}';
    const v = n === '' ? args[i++] : /^\d+$/.test(n!) ? args[Number(n)] : kw.get(n!);
    if (!v) throw new Error(`str.format has no argument for {${n}}`);
    return pyStr(v);
  });
};

const STRING_METHODS: Record<string, Method> = {
  strip: stripChars('both'),
  lstrip: stripChars('l'),
  rstrip: stripChars('r'),
  format: (self, args, kw) => str(formatString(self.value as string, args, kw)),
  join: (self, [xs]) => str(((xs?.value ?? []) as Value[]).map(pyStr).join(self.value as string)),
  isdigit: (self) => new BooleanValue(/^\d+$/.test(self.value as string)),
  isnumeric: (self) => new BooleanValue(/^\d+$/.test(self.value as string)),
  isalpha: (self) => new BooleanValue(/^[a-z]+$/i.test(self.value as string)),
  isalnum: (self) => new BooleanValue(/^[a-z0-9]+$/i.test(self.value as string)),
  isupper: (self) => new BooleanValue(/[A-Z]/.test(self.value as string) && self.value === (self.value as string).toUpperCase()),
  islower: (self) => new BooleanValue(/[a-z]/.test(self.value as string) && self.value === (self.value as string).toLowerCase()),
  count: (self, [s]) => num((self.value as string).split(s!.value as string).length - 1),
  find: (self, [s]) => num((self.value as string).indexOf(s!.value as string)),
  rfind: (self, [s]) => num((self.value as string).lastIndexOf(s!.value as string)),
  index: (self, [s]) => {
    const i = (self.value as string).indexOf(s!.value as string);
    if (i < 0) throw new Error('substring not found');
    return num(i);
  },
  split: (self, [sep, max]) => {
    const s = self.value as string;
    const limit = max && !(is(max, NullValue)) ? (max.value as number) : -1;
    let parts: string[];
    if (!sep || is(sep, NullValue)) parts = s.trim() === '' ? [] : s.trim().split(/\s+/);
    else parts = s.split(sep.value as string);
    if (limit >= 0 && parts.length > limit + 1) parts = [...parts.slice(0, limit), parts.slice(limit).join(sep && !(is(sep, NullValue)) ? (sep.value as string) : ' ')];
    return new ArrayValue(parts.map(str));
  },
  splitlines: (self) => new ArrayValue((self.value as string).split(/\r?\n/).filter((l, i, a) => i < a.length - 1 || l !== '').map(str)),
  zfill: (self, [w]) => str((self.value as string).padStart(w!.value as number, '0')),
  ljust: (self, [w, c]) => str((self.value as string).padEnd(w!.value as number, (c?.value as string) ?? ' ')),
  rjust: (self, [w, c]) => str((self.value as string).padStart(w!.value as number, (c?.value as string) ?? ' ')),
  casefold: (self) => str((self.value as string).toLowerCase()),
  swapcase: (self) => str([...(self.value as string)].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join('')),
};

const LIST_METHODS: Record<string, Method> = {
  append: (self, [x]) => (self.value.push(x), NONE()),
  extend: (self, [xs]) => (self.value.push(...(xs!.value as Value[])), NONE()),
  insert: (self, [i, x]) => (self.value.splice(i!.value as number, 0, x), NONE()),
  pop: (self, [i]) => {
    const list = self.value as Value[];
    if (!list.length) throw new Error('pop from empty list');
    return i ? list.splice(i.value as number, 1)[0]! : list.pop()!;
  },
  remove: (self, [x]) => {
    const i = (self.value as Value[]).findIndex((v) => same(v, x!));
    if (i < 0) throw new Error('list.remove(x): x not in list');
    self.value.splice(i, 1);
    return NONE();
  },
  index: (self, [x]) => {
    const i = (self.value as Value[]).findIndex((v) => same(v, x!));
    if (i < 0) throw new Error(`${pyRepr(x!)} is not in list`);
    return num(i);
  },
  count: (self, [x]) => num((self.value as Value[]).filter((v) => same(v, x!)).length),
  reverse: (self) => (self.value.reverse(), NONE()),
  sort: (self) => (self.value.sort((a: Value, b: Value) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0)), NONE()),
  copy: (self) => new ArrayValue([...(self.value as Value[])]),
  clear: (self) => (self.value.splice(0), NONE()),
};

const DICT_METHODS: Record<string, Method> = {
  get: (self, [k, d]) => (self.value as Map<string, Value>).get(k!.value as string) ?? d ?? NONE(),
  items: (self) => new ArrayValue([...(self.value as Map<string, Value>)].map(([k, v]) => new Tuple([str(k), v]))),
  keys: (self) => new ArrayValue([...(self.value as Map<string, Value>).keys()].map(str)),
  values: (self) => new ArrayValue([...(self.value as Map<string, Value>).values()]),
  update: (self, [o], kw) => {
    for (const [k, v] of [...(o ? (o.value as Map<string, Value>) : []), ...kw]) self.value.set(k, v);
    return NONE();
  },
  pop: (self, [k, d]) => {
    const found = (self.value as Map<string, Value>).get(k!.value as string) ?? d;
    if (!found) throw new Error(`KeyError: ${pyRepr(k!)}`);
    self.value.delete(k!.value);
    return found;
  },
  setdefault: (self, [k, d]) => {
    if (!self.value.has(k!.value)) self.value.set(k!.value, d ?? NONE());
    return self.value.get(k!.value) as Value;
  },
  copy: (self) => new ObjectValue(new Map(self.value as Map<string, Value>)),
  clear: (self) => (self.value.clear(), NONE()),
};

/** `x.name` where x is a str, list or dict and name one of Python's methods: the bound method. */
function pythonMethod(object: Value, name: string): Value | undefined {
  const table = is(object, StringValue) ? STRING_METHODS : isList(object) ? LIST_METHODS : isDict(object) ? DICT_METHODS : undefined;
  const method = table && Object.hasOwn(table, name) ? table[name] : undefined;
  if (!method) return undefined;
  return new FunctionValue((args) => {
    const [positional, keywords] = argsOf(args);
    return method(object, positional, keywords);
  });
}

// ---------------------------------------------------------------------------------------------
// Filters and tests

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&#34;').replace(/'/g, '&#39;');
const asList = (x: Value): Value[] => (is(x, StringValue) ? [...(x.value as string)].map(str) : is(x, ObjectValue) ? [...(x.value as Map<string, Value>).keys()].map(str) : (x.value as Value[]));

type Filter = (x: Value, args: Value[], kw: Map<string, Value>) => Value;
const FILTERS: Record<string, Filter> = {
  // dbt's own filters: its native-type rendering is not modelled, the value passes as it is.
  as_text: (x) => x,
  as_bool: (x) => x,
  as_native: (x) => x,
  as_number: (x) => x,
  e: (x) => str(escapeHtml(pyStr(x))),
  escape: (x) => str(escapeHtml(pyStr(x))),
  string: (x) => str(pyStr(x)),
  list: (x) => new ArrayValue([...asList(x)]),
  sum: (x, [start], kw) => {
    const attr = kw.get('attribute')?.value as string | undefined;
    return num((x.value as Value[]).reduce((a, v) => a + ((attr ? (v.value as Map<string, Value>).get(attr)?.value : v.value) as number), (start?.value as number) ?? 0));
  },
  min: (x) => (x.value as Value[]).reduce((a, v) => (v.value < a.value ? v : a)),
  max: (x) => (x.value as Value[]).reduce((a, v) => (v.value > a.value ? v : a)),
  count: (x) => num(is(x, ObjectValue) ? x.value.size : x.value.length),
  length: (x) => num(is(x, ObjectValue) ? x.value.size : x.value.length),
  first: (x) => asList(x)[0] ?? new UndefinedValue(undefined),
  last: (x) => asList(x).at(-1) ?? new UndefinedValue(undefined),
  format: (x, args, kw) => {
    let i = 0;
    return str((x.value as string).replace(/%(?:\((\w+)\))?[sdir]/g, (_, key: string | undefined) => pyStr((key ? kw.get(key) : args[i++]) ?? NONE())));
  },
  wordcount: (x) => num((x.value as string).split(/\s+/).filter(Boolean).length),
  center: (x, [w]) => {
    const n = ((w?.value as number) ?? 80) - (x.value as string).length;
    const l = Math.floor(n / 2);
    return n > 0 ? str(' '.repeat(l) + x.value + ' '.repeat(n - l)) : x;
  },
  batch: (x, [n]) => {
    const out: Value[] = [];
    const items = x.value as Value[];
    for (let i = 0; i < items.length; i += n!.value as number) out.push(new ArrayValue(items.slice(i, i + (n!.value as number))));
    return new ArrayValue(out);
  },
  round: (x, [p]) => new FloatValue(Number((x.value as number).toFixed((p?.value as number) ?? 0))),
  trim: (x, [chars]) => stripChars('both')(x, [chars ?? NONE()], new Map()),
  lower: (x) => str(pyStr(x).toLowerCase()),
  upper: (x) => str(pyStr(x).toUpperCase()),
};

/** Tests Jinja2 has that the engine lacks or answers differently. */
export const EXTRA_TESTS: Record<string, (v: Value) => boolean> = {
  iterable: (v) => is(v, ArrayValue) || is(v, StringValue) || is(v, ObjectValue),
  // `is in`/`is eq` take an argument, which the engine's parser does not pass to tests.
  sequence: (v) => is(v, ArrayValue) || is(v, StringValue) || is(v, ObjectValue),
  float: (v) => is(v, FloatValue),
  mapping: (v) => is(v, ObjectValue),
  callable: (v) => is(v, FunctionValue),
};

// ---------------------------------------------------------------------------------------------
// The interpreter

interface Node {
  type: string;
  value?: unknown;
}
interface MemberNode extends Node {
  object: Node;
  property: Node & { value: unknown };
  computed: boolean;
}
interface CallNode extends Node {
  callee: Node & { value?: unknown };
  args: Node[];
}
interface MacroNode extends Node {
  name: { value: string };
}
interface BinaryNode extends Node {
  operator: { value: string };
  left: Node;
  right: Node;
}

interface ForNode extends Node {
  iterable: Node & { lhs?: Node };
}

/** The engine's interpreter with its (TypeScript-private) evaluation steps visible to a subclass. */
interface InterpreterSteps {
  global: Environment;
  run(program: unknown): Value;
  evaluate(node: Node | undefined, env: Environment): Value;
  evaluateArguments(args: Node[], env: Environment): [Value[], Map<string, Value>];
  applyFilter(operand: Value, filter: Node, env: Environment): Value;
  evaluateMacro(node: MacroNode, env: Environment): Value;
  evaluateBlock(statements: Node[], env: Environment): Value;
  evaluateSliceExpression(object: Value, expr: Node, env: Environment): Value;
  evaluateMemberExpression(expr: MemberNode, env: Environment): Value;
  evaluateCallExpression(expr: CallNode, env: Environment): Value;
  evaluateBinaryExpression(node: BinaryNode, env: Environment): Value;
  evaluateTestExpression(node: Node, env: Environment): Value;
  evaluateFor(node: ForNode, env: Environment): Value;
}
const Base = Interpreter as unknown as new (env?: Environment) => InterpreterSteps;

/** A call the template made to something that is not a function: a macro or context function that does not exist. */
export class NotCallable extends Error {
  /** `method`: the name called on a value that has no such method (`today().replace`), not a macro's. */
  constructor(
    readonly callee: string,
    readonly method?: string,
  ) {
    super(`'${callee}' is undefined`);
  }
}

/** What a macro defined in a file knows about itself, for error messages. */
export interface MacroOrigin {
  name: string;
  file: string;
}
export interface CallSite {
  name: string;
  first?: string;
  /** The macro file the call is written in; undefined for the template being rendered. */
  file?: string;
}
export const ORIGIN = Symbol('jinja macro origin');

const calleeName = (node: Node): string | undefined => {
  if (node.type === 'Identifier') return String(node.value);
  if (node.type === 'MemberExpression') {
    const m = node as MemberNode;
    const left = calleeName(m.object);
    return left && !m.computed ? `${left}.${String(m.property.value)}` : undefined;
  }
  return undefined;
};

/**
 * Most items (or characters) `'-' * n` or `[x] * n` may make. Python makes any size it has the
 * memory for; here a list past a few million items took the process down with it (V8's heap).
 */
const MAX_REPEATED = 10_000_000;

/** n for `sequence * n`, as Python takes it (none below zero), or an error past MAX_REPEATED. */
function repetitions(sequence: string | readonly unknown[], n: number): number {
  // An empty sequence repeated is empty however many times: none is made.
  const times = sequence.length ? Math.max(0, n) : 0;
  if (sequence.length * times > MAX_REPEATED) {
    throw new Error(`${typeof sequence === 'string' ? 'a text' : 'a list'} of ${sequence.length} × ${n} ${typeof sequence === 'string' ? 'characters' : 'items'} is more than a template may make (${MAX_REPEATED.toLocaleString('en')})`);
  }
  return times;
}

/**
 * How deep macros may call each other. dbt stops at about 100 (Python's recursion limit): a
 * project dbt renders renders here too. Without a bound, an endless recursion ran out of
 * JavaScript's stack, and where that happened in a name lookup, the macro was said not to exist.
 */
const MAX_MACRO_DEPTH = 200;

/** Statements print nothing; only what an expression evaluates to is output (None as `None`). */
const STATEMENTS = new Set(['Set', 'If', 'For', 'Macro', 'CallStatement', 'FilterStatement', 'Comment', 'Break', 'Continue', 'Program']);

export class DbtInterpreter extends Base {
  /** Macros being evaluated, innermost last: where an error happened. */
  readonly stack: MacroOrigin[] = [];
  /** Calls under way, innermost last; after an error, the calls it was thrown through. */
  readonly calls: CallSite[] = [];
  /** The file whose macros the top level of which is being evaluated (set while loading a macro file). */
  definingFile: string | undefined;

  override evaluateMacro(node: MacroNode, env: Environment): Value {
    const result = super.evaluateMacro(node, env);
    const fn = env.variables.get(node.name.value) as unknown as Value & { [ORIGIN]?: MacroOrigin };
    const body = fn.value as Fn;
    const origin: MacroOrigin = { name: node.name.value, file: this.definingFile ?? '' };
    fn[ORIGIN] = origin;
    fn.value = (args: Value[], scope: Environment) => {
      if (this.stack.length >= MAX_MACRO_DEPTH) {
        throw new Error(`macros nested more than ${MAX_MACRO_DEPTH} deep: '${origin.name}' calls itself, or macros call each other, without end? (dbt stops at about 100, Python's recursion limit)`);
      }
      this.stack.push(origin);
      try {
        const out = body(args, scope);
        this.stack.pop();
        return out;
      } catch (error) {
        if (error instanceof MacroReturn) {
          this.stack.pop();
          return error.value;
        }
        // The stack stays as it was at the error, so the error can say which macro it came from.
        throw error;
      }
    };
    return result;
  }

  override evaluateBlock(statements: Node[], env: Environment): Value {
    let out = '';
    for (const statement of statements) {
      const value = this.evaluate(statement, env);
      if (is(value, UndefinedValue)) continue;
      if (is(value, NullValue) && STATEMENTS.has(statement.type)) continue;
      out += pyStr(value);
    }
    return str(out);
  }

  /**
   * Every call is recorded while it runs (its name, its first argument when a string literal, the
   * file of the macro making it), so an error can be placed at the call that raised it.
   */
  override evaluateCallExpression(expr: CallNode, env: Environment): Value {
    const first = expr.args[0];
    const entry: CallSite = { name: calleeName(expr.callee) ?? '', first: first?.type === 'StringLiteral' ? String(first.value) : undefined, file: this.stack.at(-1)?.file };
    this.calls.push(entry);
    try {
      const callee = this.evaluate(expr.callee, env);
      if (!(is(callee, FunctionValue))) {
        const member = expr.callee.type === 'MemberExpression' && !(expr.callee as MemberNode).computed ? String((expr.callee as MemberNode).property.value) : undefined;
        throw new NotCallable(calleeName(expr.callee) ?? (member ? `….${member}` : 'an expression'), calleeName(expr.callee) === undefined ? member : undefined);
      }
      const [args, kwargs] = this.evaluateArguments(expr.args, env);
      if (kwargs.size > 0) args.push(new KeywordArgumentsValue(kwargs));
      const out = (callee.value as Fn)(args, env);
      this.calls.pop();
      return out;
    } catch (error) {
      // return() leaves its macro by an exception: that call is over, not failed.
      if (error instanceof MacroReturn) this.calls.pop();
      throw error;
    }
  }

  /** `x is name`: Jinja2's tests the engine lacks first (its own are per scope, so they are not replaced there). */
  override evaluateTestExpression(node: Node & { operand: Node; negate: boolean; test: { value: string } }, env: Environment): Value {
    const test = (Object.hasOwn(EXTRA_TESTS, node.test.value) ? EXTRA_TESTS[node.test.value] : undefined) ?? env.tests.get(node.test.value);
    if (!test) throw new Error(`there is no test named '${node.test.value}'`);
    const result = test(this.evaluate(node.operand, env));
    return new BooleanValue(node.negate ? !result : result);
  }

  /** A for loop over a string goes through its characters, as Python's does (dbt_expectations' flags); over an undefined value, through nothing. */
  override evaluateFor(node: ForNode, env: Environment): Value {
    const selected = node.iterable.type === 'SelectExpression';
    const iterable = this.evaluate(selected ? node.iterable.lhs : node.iterable, env);
    // Evaluated once: the engine is handed the value, not the expression again.
    const scope = new Environment(env);
    // Jinja2 iterates an undefined value as nothing (a macro argument left out).
    const items = is(iterable, StringValue) ? new ArrayValue([...(iterable.value as string)].map(str)) : is(iterable, UndefinedValue) ? new ArrayValue([]) : iterable;
    scope.setVariable('__iterable', items as never);
    const name = { type: 'Identifier', value: '__iterable' };
    return super.evaluateFor({ ...node, iterable: selected ? { ...node.iterable, lhs: name } : name }, scope);
  }

  override evaluate(node: Node | undefined, env: Environment): Value {
    if (node?.type === 'TupleLiteral') return new Tuple((node.value as Node[]).map((x) => this.evaluate(x, env)));
    // Python keys a dict by any hashable value (dbt_utils keys one by a relation): here by its text.
    if (node?.type === 'ObjectLiteral') {
      const entries = new Map<string, Value>();
      for (const [key, value] of node.value as Map<Node, Node>) entries.set(pyStr(this.evaluate(key, env)), this.evaluate(value, env));
      return new ObjectValue(entries);
    }
    return super.evaluate(node, env);
  }

  override evaluateBinaryExpression(node: BinaryNode, env: Environment): Value {
    const op = node.operator.value;
    if (op === '%' || op === '*' || op === '<' || op === '>' || op === '<=' || op === '>=' || op === '+' || op === '-') {
      const left = this.evaluate(node.left, env);
      const right = this.evaluate(node.right, env);
      const operated = hostOperator(op, left, right);
      if (operated) return operated;
      // Strings compare as Python compares them (dates written as text, versions).
      if (is(left, StringValue) && is(right, StringValue)) {
        const [a, b] = [left.value as string, right.value as string];
        if (op === '<') return new BooleanValue(a < b);
        if (op === '>') return new BooleanValue(a > b);
        if (op === '<=') return new BooleanValue(a <= b);
        if (op === '>=') return new BooleanValue(a >= b);
      }
      // 'a %s' % x and '-' * 3, as Python reads them.
      if (op === '%' && is(left, StringValue)) {
        const items = is(right, ArrayValue) ? (right.value as Value[]) : [right];
        return FILTERS.format!(left, items, is(right, ObjectValue) ? (right.value as Map<string, Value>) : new Map());
      }
      if (op === '*' && is(left, StringValue) && is(right, IntegerValue)) return str((left.value as string).repeat(repetitions(left.value as string, right.value as number)));
      if (op === '*' && is(left, ArrayValue) && is(right, IntegerValue)) return new ArrayValue(Array.from({ length: repetitions(left.value as Value[], right.value as number) }, () => left.value as Value[]).flat());
      const env2 = new Environment(env);
      env2.setVariable('__l', left as never);
      env2.setVariable('__r', right as never);
      return super.evaluateBinaryExpression({ ...node, left: { type: 'Identifier', value: '__l' }, right: { type: 'Identifier', value: '__r' } }, env2);
    }
    if (op === '~') return str(pyStr(this.evaluate(node.left, env)) + pyStr(this.evaluate(node.right, env)));
    if (op === '==' || op === '!=') {
      const eq = same(this.evaluate(node.left, env), this.evaluate(node.right, env));
      return new BooleanValue(op === '==' ? eq : !eq);
    }
    if (op === 'in' || op === 'not in') {
      const left = this.evaluate(node.left, env);
      const right = this.evaluate(node.right, env);
      let found: boolean;
      if (is(right, ArrayValue)) found = (right.value as Value[]).some((x) => same(x, left));
      else if (is(right, ObjectValue)) found = right.value.has(String(left.value));
      else if (is(right, StringValue)) found = (right.value as string).includes(pyStr(left));
      else if (is(right, UndefinedValue) || is(right, NullValue)) throw new Error(`argument of type '${is(right, NullValue) ? 'NoneType' : 'Undefined'}' is not iterable`);
      else throw new Error(`'in' needs a list, dict or string, got ${right.type}`);
      return new BooleanValue(op === 'in' ? found : !found);
    }
    return super.evaluateBinaryExpression(node, env);
  }

  /** Attribute and item access, with Python's methods on str, list and dict before the engine's. */
  override evaluateMemberExpression(expr: MemberNode, env: Environment): Value {
    const object = this.evaluate(expr.object, env);
    let property: Value;
    if (expr.computed) {
      if (expr.property.type === 'SliceExpression') return this.evaluateSliceExpression(object, expr.property, env);
      property = this.evaluate(expr.property, env);
    } else if (expr.property.type === 'IntegerLiteral') {
      property = new IntegerValue(expr.property.value as number);
    } else {
      property = str(String(expr.property.value));
      const method = pythonMethod(object, property.value as string);
      if (method) return method;
    }
    let found: Value | undefined;
    if (is(object, ObjectValue) || is(object, NamespaceValue)) {
      // A dict keyed by a relation (see ObjectLiteral in evaluate) is looked up by its text too.
      const key = is(property, ObjectValue) ? pyStr(property) : String(property.value);
      found = (object.value as Map<string, Value>).get(key) ?? (!expr.computed && is(object, ObjectValue) ? pythonMethod(object, String(property.value)) ?? object.builtins.get(String(property.value)) : undefined);
    } else if (is(object, ArrayValue) || is(object, StringValue)) {
      if (is(property, IntegerValue)) {
        const at = (is(object, StringValue) ? [...(object.value as string)] : (object.value as Value[])).at(property.value as number);
        found = at === undefined ? undefined : typeof at === 'string' ? str(at) : at;
      } else if (property.value === 'length' && is(object, ArrayValue)) {
        found = num(object.value.length);
      } else {
        found = object.builtins.get(String(property.value));
      }
    } else if (is(object, UndefinedValue) || is(object, NullValue)) {
      const name = calleeName(expr.object);
      throw new Error(`${name ? `'${name}'` : 'the value'} is ${is(object, NullValue) ? 'None' : 'undefined'}: it has no attribute '${String(property.value)}'`);
    } else {
      found = object.builtins.get(String(property.value));
    }
    return found ?? new UndefinedValue(undefined);
  }

  override applyFilter(operand: Value, filter: Node, env: Environment): Value {
    const call = filter.type === 'CallExpression' ? (filter as CallNode) : undefined;
    const name = String(call ? call.callee.value : filter.value);
    const [args, kw] = call ? this.evaluateArguments(call.args, env) : [[], new Map<string, Value>()];
    if (name === 'd' || name === 'default') {
      const fallback = args[0] ?? kw.get('default_value') ?? str('');
      const boolean = (args[1] ?? kw.get('boolean'))?.value === true;
      return is(operand, UndefinedValue) || (boolean && !operand.__bool__().value) ? fallback : operand;
    }
    // Jinja2 maps and filters nothing when given None (`compare_columns|map('lower')` with no columns).
    if (['map', 'select', 'reject', 'selectattr', 'rejectattr'].includes(name) && (is(operand, NullValue) || is(operand, UndefinedValue))) return new ArrayValue([]);
    if ((name === 'select' || name === 'reject') && args[0]) {
      const test = (Object.hasOwn(EXTRA_TESTS, String(args[0].value)) ? EXTRA_TESTS[String(args[0].value)] : undefined) ?? env.tests.get(String(args[0].value));
      if (!test) throw new Error(`no test named '${String(args[0].value)}'`);
      return new ArrayValue(asList(operand).filter((v) => test(v) === (name === 'select')));
    }
    if ((name === 'select' || name === 'reject') && !args[0]) return new ArrayValue(asList(operand).filter((v) => v.__bool__().value === (name === 'select')));
    if (name === 'map' && !kw.has('attribute') && is(args[0], StringValue)) {
      // map('upper'), map('replace', 'a', 'b'): a filter applied to each item.
      const filterName = String(args[0]!.value);
      return new ArrayValue(asList(operand).map((v) => this.applyWithArgs(v, filterName, args.slice(1))));
    }
    if (name === 'map' && is(kw.get('attribute'), IntegerValue)) {
      // map(attribute=0): each item's element at that index (a row of a query's result).
      const index = kw.get('attribute')!.value as number;
      return new ArrayValue(asList(operand).map((v) => (is(v, ArrayValue) ? ((v.value as Value[])[index] ?? kw.get('default') ?? NONE()) : (kw.get('default') ?? NONE()))));
    }
    if (name === 'join' && is(operand, ArrayValue)) {
      const attr = kw.get('attribute')?.value as string | undefined;
      return str((operand.value as Value[]).map((v) => pyStr(attr ? ((v.value as Map<string, Value>).get(attr) ?? NONE()) : v)).join((args[0]?.value as string) ?? kw.get('d')?.value ?? ''));
    }
    const extra = Object.hasOwn(FILTERS, name) ? FILTERS[name] : undefined;
    if (extra && !(name === 'length' && !(is(operand, ObjectValue) || is(operand, ArrayValue) || is(operand, StringValue)))) return extra(operand, args, kw);
    return super.applyFilter(operand, filter, env);
  }

  private applyWithArgs(operand: Value, name: string, args: Value[]): Value {
    if (!args.length) return this.applyFilter(operand, { type: 'Identifier', value: name }, this.global);
    const env = new Environment(this.global);
    args.forEach((a, i) => env.setVariable(`__a${i}`, a as never));
    return this.applyFilter(operand, { type: 'CallExpression', callee: { type: 'Identifier', value: name }, args: args.map((_, i) => ({ type: 'Identifier', value: `__a${i}` })) } as CallNode, env);
  }
}

// ---------------------------------------------------------------------------------------------
// Source rewrites: dbt's statements and Python spellings the engine's (closed) parser lacks.
// Each keeps the text's lines where they are, so a line found in the rewritten text is the file's.

/** dbt's block tags as macros: `{% test x(...) %}` is the macro test_x, as dbt names it. */
function dbtBlocks(text: string): string {
  return text
    .replace(/\{%(-?)\s*test\s+([A-Za-z_]\w*)\s*\(/g, '{%$1 macro test_$2(')
    .replace(/\{%(-?)\s*materialization\s+([A-Za-z_]\w*)\s*,([^%]*?)(-?)%\}/g, (_m, a: string, name: string, rest: string, b: string) => `{%${a} macro materialization_${name}_${/adapter\s*=\s*['"](\w+)/.exec(rest)?.[1] ?? 'default'}() ${b}%}`)
    .replace(/\{%(-?)\s*docs\s+([A-Za-z_]\w*)\s*(-?)%\}/g, '{%$1 macro docs_$2() $3%}')
    .replace(/\{%(-?)\s*end(test|materialization|docs)\s*(-?)%\}/g, '{%$1 endmacro $3%}');
}

const KNOWN_ESCAPES = new Set(['n', 't', 'r', 'b', 'f', 'v', "'", '"', '\\', 'x', 'u']);

/** Inside a tag: Python keeps an unknown escape (`'\d'`) as backslash and letter; backslash-newline joins lines. */
function pythonStrings(tag: string): string {
  return tag.replace(/'(?:\\[\s\S]|[^'\\])*'|"(?:\\[\s\S]|[^"\\])*"/g, (literal) =>
    literal.replace(/\\([\s\S])/g, (whole, c: string) => (c === '\n' ? '' : KNOWN_ESCAPES.has(c) ? whole : `\\\\${c}`)),
  ).replace(/\\\n/g, '');
}

export function rewrite(text: string): string {
  return (
    dbtBlocks(text)
      // {% raw %}…{% endraw %} as one string expression printing the text as it is.
      .replace(/\{%(-?)\s*raw\s*(-?)%\}([\s\S]*?)\{%(-?)\s*endraw\s*(-?)%\}/g, (_m, a: string, b: string, body: string, c: string, d: string) => {
        let inner = body;
        if (b === '-') inner = inner.replace(/^\s+/, '');
        if (c === '-') inner = inner.replace(/\s+$/, '');
        const lines = '\n'.repeat((body.match(/\n/g) ?? []).length);
        // The body's line breaks follow as a comment, so later lines keep their numbers.
        return `{{${a} ${JSON.stringify(inner)} ${d}}}${lines ? `{#${lines}#}` : ''}`;
      })
      .replace(/\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}/g, pythonStrings)
      // {% do x %} evaluates x for its effect: an assignment to a name no template reads.
      .replace(/\{%(-?)\s*do\s/g, '{%$1 set __do = ')
      // Python's colon after if/elif/else/for, which Jinja2 tolerates.
      .replace(/(\{%-?\s*(?:if|elif|else|for)\b[^%]*?):\s*(-?%\})/g, '$1 $2')
  );
}

/** Parses dbt's Jinja into the engine's program (throws the engine's syntax error). */
export function compileTemplate(text: string): unknown {
  return parse(tokenize(rewrite(text)));
}

/** The most items a range may have: Jinja's sandbox, which dbt renders in, refuses more (jinja2.sandbox.MAX_RANGE). */
const MAX_RANGE = 100_000;

/** Python's range() (the engine's own has no negative steps), as dbt's sandbox allows it. */
function range(...args: number[]): number[] {
  if (args.length < 1 || args.length > 3) throw new Error(`range expected 1 to 3 arguments, got ${args.length}`);
  const notInteger = args.find((a) => !Number.isSafeInteger(a));
  if (notInteger !== undefined) throw new Error(`range() takes integers, got ${String(notInteger)}`);
  const [start, stop, step] = args.length === 1 ? [0, args[0]!, 1] : [args[0]!, args[1]!, args[2] ?? 1];
  if (step === 0) throw new Error('range() arg 3 must not be zero');
  const length = Math.max(0, Math.ceil((stop - start) / step));
  if (length > MAX_RANGE) throw new Error(`range too big: ${length.toLocaleString('en-US')} items, and dbt's Jinja sandbox allows at most ${MAX_RANGE.toLocaleString('en-US')}`);
  return Array.from({ length }, (_, i) => start + i * step);
}

/** Globals of every dbt template that are Jinja's or Python's rather than dbt's. */
export function pythonGlobals(env: Environment): void {
  const values: Record<string, Value> = {
    true: new BooleanValue(true),
    false: new BooleanValue(false),
    none: NONE(),
    True: new BooleanValue(true),
    False: new BooleanValue(false),
    None: NONE(),
    range: new FunctionValue((args) => new ArrayValue(range(...argsOf(args)[0].map((a) => a.value as number)).map(num))),
    dict: new FunctionValue((args) => {
      const [[from], kw] = argsOf(args);
      return new ObjectValue(new Map([...(from ? (from.value as Map<string, Value>) : []), ...kw]));
    }),
    list: new FunctionValue(([x]) => new ArrayValue(x ? [...asList(x)] : [])),
    // dbt's context has set() (None for what is not iterable, as its own does), e.g. dbt_utils.equality.
    set: new FunctionValue(([x]) => (x && !is(x, NullValue) && !is(x, UndefinedValue) ? new PySet([...asList(x)]) : NONE())),
    zip: new FunctionValue((args) => {
      const lists = argsOf(args)[0].map(asList);
      const n = Math.min(...lists.map((l) => l.length));
      return new ArrayValue(Array.from({ length: n }, (_, i) => new Tuple(lists.map((l) => l[i]!))));
    }),
    return: new FunctionValue(([x]) => {
      throw new MacroReturn(x ?? NONE());
    }),
  };
  for (const [name, value] of Object.entries(values)) env.setVariable(name, value as never);
  const tests = new Map(env.tests);
  for (const [name, test] of Object.entries(EXTRA_TESTS)) tests.set(name, test as never);
  env.tests = tests;
}
