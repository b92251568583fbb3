import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AGE_GROUPS,
  CATEGORIES,
  CITIES,
  FLAGSHIPS,
  MALL_NAMES,
  MARKETPLACES,
  PRODUCT_LINES,
  STREET_NAMES,
  type AgeGroup,
  type Category,
  type ModelNumberStyle,
  type StoreFormat,
} from './catalog.js';
import { formatCents, isoDate, toEpochDay } from './format.js';
import { AliasTable, Rng, mixSeed } from './random.js';

/**
 * The retailer's reference data (stores, products, loyalty customers) and the samplers every
 * other generator draws from. A world is a pure function of its options: workers rebuild it
 * rather than receive it, which is cheaper than copying it and keeps them deterministic.
 */

export interface WorldOptions {
  seed: number;
  stores: number;
  products: number;
  customers: number;
}

export interface Store {
  storeId: number;
  name: string;
  region: string;
  state: string;
  city: string;
  format: StoreFormat;
  openedOn: string;
  /** Expected share of all sales lines. */
  share: number;
}

export interface Product {
  sku: string;
  name: string;
  /** Index into PRODUCT_LINES. */
  line: number;
  category: Category;
  brand: string;
  manufacturer: string;
  theme: string;
  ageGroup: AgeGroup;
  listPriceCents: number;
  /** Relative unit sales. */
  popularity: number;
}

export interface Customer {
  customerId: number;
  homeStoreId: number;
  state: string;
  joinedOn: string;
  loyaltyTier: 'member' | 'gold';
  childAgeGroup: AgeGroup;
  /** Product lines the household shops for (indices into PRODUCT_LINES); latent, not exported. */
  interests: number[];
  /**
   * The children's wish list: a few products (indices into World.products) from those lines,
   * looked at again and again before one is bought; latent, not exported.
   */
  wishList: number[];
  /** Relative number of online sessions; 0 for customers who only shop in stores. */
  onlineActivity: number;
}

export interface World {
  options: WorldOptions;
  stores: Store[];
  products: Product[];
  customers: Customer[];
  hotStoreIds: number[];
  /** Draws a product index by popularity. */
  productSampler: AliasTable;
  /** Per product line: its product indices and a sampler over them by popularity. */
  lineProducts: number[][];
  lineSamplers: AliasTable[];
  /** Per category (index into CATEGORIES): product indices and a sampler. */
  categoryProducts: number[][];
  categorySamplers: AliasTable[];
  /** Draws a line by popularity (for shoppers without known interests). */
  lineSampler: AliasTable;
  /** Customer indices by home store. */
  customersByStore: Map<number, number[]>;
  /** Indices of customers who shop online, and a sampler over them by activity. */
  onlineCustomers: number[];
  onlineCustomerSampler: AliasTable;
}

/** A product of one line (index into World.products), drawn by popularity. */
export function pickFromLine(world: Pick<World, 'lineProducts' | 'lineSamplers'>, line: number, rng: Rng): number {
  return world.lineProducts[line]?.[(world.lineSamplers[line] as AliasTable).sample(rng)] as number;
}

export const DEFAULT_WORLD: Omit<WorldOptions, 'seed'> = { stores: 3000, products: 12_000, customers: 50_000 };

export function buildWorld(options: WorldOptions): World {
  if (options.stores < FLAGSHIPS.length + 10) throw new Error(`at least ${FLAGSHIPS.length + 10} stores are needed`);
  if (options.products < PRODUCT_LINES.length * 3) throw new Error(`at least ${PRODUCT_LINES.length * 3} products are needed`);
  if (options.customers < 1) throw new Error('at least one customer is needed');
  const stores = buildStores(options);
  const products = buildProducts(options);
  const lineProducts = PRODUCT_LINES.map(() => [] as number[]);
  const categoryProducts = CATEGORIES.map(() => [] as number[]);
  products.forEach((product, index) => {
    lineProducts[product.line]?.push(index);
    categoryProducts[CATEGORIES.indexOf(product.category)]?.push(index);
  });
  const samplerOver = (indices: number[]) => new AliasTable(indices.map((i) => (products[i] as Product).popularity));
  const lineSamplers = lineProducts.map(samplerOver);
  const customers = buildCustomers(options, stores, (line, rng) => pickFromLine({ lineProducts, lineSamplers }, line, rng));
  const customersByStore = new Map<number, number[]>();
  customers.forEach((customer, index) => {
    const list = customersByStore.get(customer.homeStoreId);
    if (list) list.push(index);
    else customersByStore.set(customer.homeStoreId, [index]);
  });
  const onlineCustomers = customers.flatMap((customer, index) => (customer.onlineActivity > 0 ? [index] : []));
  if (onlineCustomers.length === 0) onlineCustomers.push(0);
  return {
    options,
    stores,
    products,
    customers,
    hotStoreIds: stores.slice(0, FLAGSHIPS.length).map((store) => store.storeId),
    productSampler: new AliasTable(products.map((product) => product.popularity)),
    lineProducts,
    lineSamplers,
    categoryProducts,
    categorySamplers: categoryProducts.map((indices) => (indices.length > 0 ? samplerOver(indices) : new AliasTable([1]))),
    lineSampler: new AliasTable(PRODUCT_LINES.map((productLine) => productLine.popularity)),
    customersByStore,
    onlineCustomers,
    onlineCustomerSampler: new AliasTable(onlineCustomers.map((i) => Math.max((customers[i] as Customer).onlineActivity, 1e-9))),
  };
}

/**
 * The first stores returned are the flagships (the hot ids). The others share the remaining
 * lines along a Zipf curve (exponent 0.8) in a random order, scaled by format, so a few hundred
 * regional stores are busy and most are small.
 */
function buildStores(options: WorldOptions): Store[] {
  const rng = new Rng(mixSeed(options.seed, 1));
  const regularCount = options.stores - FLAGSHIPS.length;
  const marketplaceCount = Math.min(MARKETPLACES.length, Math.floor(regularCount / 400) + 2);
  const cityTable = new AliasTable(CITIES.map((c) => c.weight));
  const physical: Omit<Store, 'storeId' | 'share'>[] = [];
  const usedNames = new Set<string>();
  for (let i = 0; i < regularCount - marketplaceCount; i++) {
    const place = CITIES[cityTable.sample(rng)] as (typeof CITIES)[number];
    const roll = rng.next();
    const format: StoreFormat = roll < 0.56 ? 'mall' : roll < 0.87 ? 'standalone' : 'outlet';
    let name = '';
    for (let attempt = 0; attempt < 50 && (name === '' || usedNames.has(name)); attempt++) {
      const base = format === 'mall' ? `${place.city} ${rng.pick(MALL_NAMES)}` : format === 'outlet' ? `${place.city} Premium Outlets` : `${place.city} ${rng.pick(STREET_NAMES)}`;
      name = attempt < 10 ? base : `${base} ${attempt - 8}`;
    }
    usedNames.add(name);
    // Openings concentrate in the chain's growth years; the oldest stores date from 1960.
    const openedDay = Math.floor(toEpochDay('1960-01-01') + Math.pow(rng.next(), 0.7) * (toEpochDay('2023-06-30') - toEpochDay('1960-01-01')));
    physical.push({ name, region: place.region, state: place.state, city: place.city, format, openedOn: isoDate(openedDay) });
  }
  physical.sort((a, b) => (a.openedOn < b.openedOn ? -1 : a.openedOn > b.openedOn ? 1 : 0));
  // Store numbers follow opening order with gaps where stores closed; flagships keep the low
  // numbers they were given when rebuilt, marketplaces use the 9000 range as retailers'
  // e-commerce "stores" often do.
  const numbered: Omit<Store, 'share'>[] = [];
  let nextId = 101;
  for (const store of physical) {
    numbered.push({ storeId: nextId, ...store });
    nextId += 1 + (rng.chance(0.25) ? rng.between(1, 3) : 0);
  }
  const marketplaces: Omit<Store, 'share'>[] = MARKETPLACES.slice(0, marketplaceCount).map((name, i) => ({
    storeId: 9001 + i,
    name,
    region: 'Online',
    state: '',
    city: '',
    format: 'online',
    openedOn: `${2015 + i}-03-01`,
  }));
  const flagships: Store[] = FLAGSHIPS.map((flagship) => ({
    storeId: flagship.storeId,
    name: flagship.name,
    region: flagship.region,
    state: flagship.state,
    city: flagship.city,
    format: flagship.format,
    openedOn: flagship.opened,
    share: flagship.share,
  }));
  const regular = [...numbered, ...marketplaces];
  const formatFactor: Record<StoreFormat, number> = { mall: 1, standalone: 1.2, outlet: 0.6, online: 2 };
  const ranks = rng.shuffle(regular.map((_, i) => i));
  const raw = regular.map((store, i) => formatFactor[store.format] * Math.pow((ranks[i] as number) + 1, -0.8));
  const rawTotal = raw.reduce((sum, w) => sum + w, 0);
  const regularShare = 1 - FLAGSHIPS.reduce((sum, f) => sum + f.share, 0);
  return [...flagships, ...regular.map((store, i) => ({ ...store, share: ((raw[i] as number) / rawTotal) * regularShare }))];
}

/** Variants distinguish SKUs of one item (colours, editions); the model number keeps names unique. */
const COLOURS = ['Red', 'Blue', 'Green', 'Black', 'Yellow', 'Orange', 'Pink', 'Purple'];
const VARIANTS: Record<Category, readonly string[]> = {
  'building sets': ['Starter Set', 'Deluxe Set', 'Mini Build', 'Advent Calendar', 'Gift Set', 'Collector Edition', 'Battle Pack', 'Bundle'],
  dolls: ['Blonde', 'Brunette', 'Curly Hair', 'Pink Outfit', 'Holiday Edition', 'Signature Edition', 'Series 2', 'Series 3'],
  vehicles: [...COLOURS.slice(0, 6), 'Series 2', 'Treasure Hunt'],
  'action figures': ['Wave 1', 'Wave 2', 'Wave 3', 'Deluxe Class', 'Voyager Class', 'Exclusive', 'Collector Edition', 'Two-Pack'],
  'games & puzzles': ['Family Edition', 'Travel Edition', 'Deluxe Edition', 'Holiday Edition', 'Kids Edition', 'Classic Edition', 'Retro Edition', 'Party Edition'],
  'infant & preschool': ['Deluxe', 'Mini', 'Holiday Edition', 'Gift Set', 'Bundle', 'Value Pack', 'Spanish Edition', 'Classic'],
  'baby gear': ['Grey', 'Black', 'Navy', 'Gotham', 'Redmond', 'Studio', 'Pierce', 'Hazel'],
  plush: ['Cam the Cat', 'Wendy the Frog', 'Archie the Axolotl', 'Malcolm the Mushroom', 'Cinnamon the Bear', 'Hans the Hedgehog', 'Maui the Pineapple', 'Fifi the Fox'],
  'arts & crafts': ['Deluxe', 'Mini', 'Holiday Edition', 'Gift Set', 'Bundle', 'Value Pack', 'Glitter Edition', 'Classic'],
  outdoor: COLOURS,
  'video games': ['Standard Edition', 'Deluxe Edition', 'Bundle', 'Digital Code', 'Limited Edition', 'Gold Edition', 'Collector Edition', 'Pre-owned'],
};
/** Lines sold under their own name rather than the brand's ("Barbie Dreamhouse", not "Mattel Dreamhouse"). */
const FRANCHISE_LINES = new Set(['Barbie', 'Polly Pocket', 'Monster High', 'UNO', 'PAW Patrol', "Gabby's Dollhouse", 'Hatchimals', 'Peppa Pig', 'Transformers', 'Marvel Legends', 'Play-Doh', 'Monopoly', 'Pokemon TCG']);

function modelNumber(style: ModelNumberStyle, rng: Rng): string {
  const letter = () => String.fromCharCode(65 + rng.int(26));
  switch (style) {
    case 'lego':
      return String(rng.between(10_000, 79_999));
    case 'mattel':
      return `${rng.pick(['G', 'H'])}${letter()}${letter()}${rng.between(10, 99)}`;
    case 'hasbro':
      return `F${rng.between(1000, 9999)}`;
    case 'numeric':
      return String(rng.between(100_000, 999_999));
  }
}

/**
 * Products are spread over lines by assortment size (at least three each). Within a line,
 * popularity falls along a Zipf curve (exponent 1.1): a few hero SKUs per line sell most.
 * List prices are drawn towards the low end of the line's range and end in .99, .49 or .97.
 */
function buildProducts(options: WorldOptions): Product[] {
  const rng = new Rng(mixSeed(options.seed, 2));
  const totalAssortment = PRODUCT_LINES.reduce((sum, l) => sum + l.assortment, 0);
  const spare = options.products - PRODUCT_LINES.length * 3;
  const quotas = PRODUCT_LINES.map((l) => 3 + Math.floor((spare * l.assortment) / totalAssortment));
  for (let i = 0, missing = options.products - quotas.reduce((a, b) => a + b, 0); missing > 0; i++, missing--) {
    quotas[i % quotas.length] = (quotas[i % quotas.length] as number) + 1;
  }
  const usedSkus = new Set<number>();
  const usedModels = new Set<string>();
  const products: Product[] = [];
  PRODUCT_LINES.forEach((productLine, lineIndex) => {
    const count = quotas[lineIndex] as number;
    const ranks = rng.shuffle(Array.from({ length: count }, (_, i) => i));
    const zipf = ranks.map((r) => Math.pow(r + 1, -1.1));
    const zipfTotal = zipf.reduce((a, b) => a + b, 0);
    const variants = VARIANTS[productLine.category];
    const prefix = productLine.brand === 'LEGO' ? `LEGO ${productLine.theme}` : FRANCHISE_LINES.has(productLine.theme) ? productLine.theme : productLine.brand;
    for (let k = 0; k < count; k++) {
      const item = productLine.items[k % productLine.items.length] as string;
      const round = Math.floor(k / productLine.items.length);
      const variant = round === 0 ? '' : ` - ${variants[(round - 1) % variants.length]}`;
      let model = modelNumber(productLine.modelNumbers, rng);
      while (usedModels.has(model)) model = modelNumber(productLine.modelNumbers, rng);
      usedModels.add(model);
      let skuNumber = rng.between(100_000, 999_999);
      while (usedSkus.has(skuNumber)) skuNumber = rng.between(100_000, 999_999);
      usedSkus.add(skuNumber);
      const [low, high] = productLine.priceRange;
      const price = low * Math.pow(high / low, Math.pow(rng.next(), 1.6));
      const ending = rng.next() < 0.8 ? 99 : rng.next() < 0.5 ? 49 : 97;
      const listPriceCents = price < 2 ? Math.round(price * 100) : Math.max(Math.floor(price) * 100 + ending, Math.round(low * 100));
      const name = prefix === productLine.theme && item.startsWith(prefix) ? `${item}${variant} (${model})` : `${prefix} ${item}${variant} (${model})`;
      products.push({
        sku: `SKU${skuNumber}`,
        name,
        line: lineIndex,
        category: productLine.category,
        brand: productLine.brand,
        manufacturer: productLine.manufacturer,
        theme: productLine.theme,
        ageGroup: rng.pick(productLine.ages),
        listPriceCents,
        popularity: (productLine.popularity * (zipf[k] as number)) / zipfTotal,
      });
    }
  });
  return products;
}

/** Shares of customers' youngest child's age group (a loyalty-programme field). */
const CHILD_AGE_WEIGHTS = [0.14, 0.16, 0.2, 0.24, 0.18, 0.08];

/**
 * Loyalty members. Each household shops for one to three product lines, mostly ones made for
 * its child's age, and has a wish list of three to eight products from them; 40 % also shop
 * online, with a heavy-tailed activity (a few members visit the site almost daily).
 */
function buildCustomers(options: WorldOptions, stores: Store[], pickFromLine: (line: number, rng: Rng) => number): Customer[] {
  const rng = new Rng(mixSeed(options.seed, 3));
  const physical = stores.filter((store) => store.format !== 'online');
  // Flagship shoppers are mostly tourists: members' home stores follow local store sizes.
  const flagshipIds = new Set(stores.slice(0, FLAGSHIPS.length).map((store) => store.storeId));
  const homeTable = new AliasTable(physical.map((store) => (flagshipIds.has(store.storeId) ? store.share * 0.05 : store.share)));
  const ageTable = new AliasTable(CHILD_AGE_WEIGHTS);
  const linesForAge = AGE_GROUPS.map((age) => PRODUCT_LINES.flatMap((productLine, i) => (productLine.ages.includes(age) ? [i] : [])));
  const ageLineTables = linesForAge.map((indices) => new AliasTable(indices.map((i) => (PRODUCT_LINES[i] as (typeof PRODUCT_LINES)[number]).popularity)));
  const anyLineTable = new AliasTable(PRODUCT_LINES.map((productLine) => productLine.popularity));
  const joinedFrom = toEpochDay('2012-01-01');
  const joinedTo = toEpochDay('2024-06-30');
  const customers: Customer[] = [];
  let customerId = 7_100_000_000;
  for (let i = 0; i < options.customers; i++) {
    customerId += 1 + rng.int(9);
    const home = physical[homeTable.sample(rng)] as Store;
    const ageIndex = ageTable.sample(rng);
    const interestCount = 1 + (rng.chance(0.5) ? 1 : 0) + (rng.chance(0.25) ? 1 : 0);
    const interests: number[] = [];
    for (let attempt = 0; interests.length < interestCount && attempt < 20; attempt++) {
      const candidate = rng.chance(0.9) ? (linesForAge[ageIndex]?.[(ageLineTables[ageIndex] as AliasTable).sample(rng)] as number) : anyLineTable.sample(rng);
      if (!interests.includes(candidate)) interests.push(candidate);
    }
    const wishList: number[] = [];
    for (let wanted = rng.between(3, 8), attempt = 0; wishList.length < wanted && attempt < 30; attempt++) {
      const product = pickFromLine(rng.pick(interests), rng);
      if (!wishList.includes(product)) wishList.push(product);
    }
    customers.push({
      customerId,
      homeStoreId: home.storeId,
      state: home.state,
      joinedOn: isoDate(joinedFrom + rng.int(joinedTo - joinedFrom)),
      loyaltyTier: rng.chance(0.12) ? 'gold' : 'member',
      childAgeGroup: AGE_GROUPS[ageIndex] as AgeGroup,
      interests,
      wishList,
      onlineActivity: rng.chance(0.4) ? rng.logNormal(1.1) : 0,
    });
  }
  return customers;
}

/** A CSV field, quoted only when it must be. */
export function csvField(value: string | number): string {
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export const REFERENCE_HEADERS = {
  stores: ['store_id', 'name', 'region', 'state', 'city', 'format', 'opened_on'],
  products: ['sku', 'name', 'category', 'brand', 'manufacturer', 'theme', 'age_group', 'list_price'],
  customers: ['customer_id', 'home_store_id', 'state', 'joined_on', 'loyalty_tier', 'child_age_group'],
} as const;

/** Writes stores.csv, products.csv and customers.csv (sorted by id) into `dir`; returns the paths. */
export function writeReferenceFiles(world: World, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const write = (name: string, header: readonly string[], rows: (string | number)[][]) => {
    const path = join(dir, name);
    writeFileSync(path, [header.join(','), ...rows.map((row) => row.map(csvField).join(','))].join('\n') + '\n');
    return path;
  };
  const stores = [...world.stores].sort((a, b) => a.storeId - b.storeId);
  const products = [...world.products].sort((a, b) => (a.sku < b.sku ? -1 : 1));
  return [
    write('stores.csv', REFERENCE_HEADERS.stores, stores.map((s) => [s.storeId, s.name, s.region, s.state, s.city, s.format, s.openedOn])),
    write('products.csv', REFERENCE_HEADERS.products, products.map((p) => [p.sku, p.name, p.category, p.brand, p.manufacturer, p.theme, p.ageGroup, formatCents(p.listPriceCents)])),
    write('customers.csv', REFERENCE_HEADERS.customers, world.customers.map((c) => [c.customerId, c.homeStoreId, c.state, c.joinedOn, c.loyaltyTier, c.childAgeGroup])),
  ];
}
