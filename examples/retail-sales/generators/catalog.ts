/**
 * What a toy and juvenile-products retailer sells and where its stores are: the fixed knowledge
 * the generators draw from. Brands, product lines and prices are modelled on a US toy chain's
 * assortment; model numbers, names and stores are invented.
 */

export const CATEGORIES = [
  'building sets',
  'dolls',
  'vehicles',
  'action figures',
  'games & puzzles',
  'infant & preschool',
  'baby gear',
  'plush',
  'arts & crafts',
  'outdoor',
  'video games',
] as const;
export type Category = (typeof CATEGORIES)[number];

/** Age grades as printed on toy boxes. */
export const AGE_GROUPS = ['0-12m', '1-2y', '3-4y', '5-7y', '8-11y', '12y+'] as const;
export type AgeGroup = (typeof AGE_GROUPS)[number];

/** How a brand's model numbers look, so SKU names read like the real thing. */
export type ModelNumberStyle = 'lego' | 'mattel' | 'hasbro' | 'numeric';

/**
 * A product line. `popularity` is its relative share of unit sales; `assortment` how many SKUs it
 * has relative to others; shoppers' interests and baskets cluster on lines, which is what makes
 * item-to-item recommendations beat best-seller lists.
 */
export interface ProductLine {
  brand: string;
  manufacturer: string;
  category: Category;
  theme: string;
  ages: readonly AgeGroup[];
  priceRange: readonly [number, number];
  popularity: number;
  assortment: number;
  items: readonly string[];
  modelNumbers: ModelNumberStyle;
}

const line = (
  brand: string,
  manufacturer: string,
  category: Category,
  theme: string,
  ages: readonly AgeGroup[],
  priceRange: readonly [number, number],
  popularity: number,
  assortment: number,
  modelNumbers: ModelNumberStyle,
  items: readonly string[],
): ProductLine => ({ brand, manufacturer, category, theme, ages, priceRange, popularity, assortment, items, modelNumbers });

export const PRODUCT_LINES: readonly ProductLine[] = [
  line('LEGO', 'The LEGO Group', 'building sets', 'City', ['5-7y', '8-11y'], [9.99, 129.99], 8, 10, 'lego', ['Police Station', 'Fire Station', 'Cargo Train', 'Passenger Train', 'Garbage Truck', 'Space Base', 'Hospital', 'Ice Cream Truck', 'Airport', 'Construction Site', 'Farm', 'Race Car', 'Tow Truck', 'Stunt Bike', 'Coast Guard Boat']),
  line('LEGO', 'The LEGO Group', 'building sets', 'Star Wars', ['8-11y', '12y+'], [19.99, 499.99], 9, 10, 'lego', ['X-Wing Starfighter', 'Millennium Falcon', 'AT-AT Walker', 'TIE Interceptor', 'Death Star Trench Run', 'Mandalorian Helmet', 'Razor Crest', 'Snowspeeder', 'Clone Trooper Battle Pack', 'Imperial Shuttle', 'Venator Cruiser']),
  line('LEGO', 'The LEGO Group', 'building sets', 'Technic', ['8-11y', '12y+'], [14.99, 449.99], 5, 7, 'lego', ['Race Car', 'Excavator', 'Crane Truck', 'Motorcycle', 'Off-Roader', 'Monster Jam Truck', 'Bulldozer', 'Rescue Helicopter']),
  line('LEGO', 'The LEGO Group', 'building sets', 'Friends', ['5-7y', '8-11y'], [9.99, 149.99], 6, 8, 'lego', ['Heartlake City House', 'Friendship Tree House', 'Horse Stable', 'Bakery Cafe', 'Camper Van', 'Beach House', 'Pet Clinic', 'International School']),
  line('LEGO', 'The LEGO Group', 'building sets', 'DUPLO', ['1-2y', '3-4y'], [9.99, 99.99], 6, 7, 'lego', ['Number Train', 'Family Farm', 'Wild Animals of the World', 'Bath Time Fun', 'Town House', 'Animal Train', 'Big Construction Site', 'Fire Truck']),
  line('LEGO', 'The LEGO Group', 'building sets', 'NINJAGO', ['8-11y'], [9.99, 119.99], 4, 6, 'lego', ['Dragon', 'Spinjitzu Temple', 'Ninja Mech', 'Spinjitzu Battle Pack', 'Ninja Dojo', 'Battle Car']),
  line('LEGO', 'The LEGO Group', 'building sets', 'Harry Potter', ['8-11y', '12y+'], [14.99, 169.99], 5, 6, 'lego', ['Hogwarts Castle', 'Hogwarts Express', 'Diagon Alley', "Hagrid's Hut", 'Quidditch Match', 'Whomping Willow']),
  line('LEGO', 'The LEGO Group', 'building sets', 'Creator 3in1', ['8-11y'], [9.99, 99.99], 3, 5, 'lego', ['Dinosaur', 'Pirate Ship', 'Space Shuttle', 'Treehouse', 'Deep Sea Creatures', 'Vintage Motorcycle']),
  line('LEGO', 'The LEGO Group', 'building sets', 'Marvel', ['8-11y', '12y+'], [12.99, 129.99], 4, 5, 'lego', ['Avengers Tower', 'Iron Man Mech', 'Spider-Man Car', 'Hulkbuster', 'Quinjet']),
  line('Mega Bloks', 'Mattel', 'building sets', 'First Builders', ['1-2y', '3-4y'], [9.99, 39.99], 2, 3, 'mattel', ['Big Building Bag', 'Block Scooping Wagon', 'Build n Learn Table', 'Lil Dump Truck']),
  line('Mattel', 'Mattel', 'dolls', 'Barbie', ['3-4y', '5-7y', '8-11y'], [6.99, 199.99], 9, 10, 'mattel', ['Dreamhouse', 'Fashionistas Doll', 'Careers Doll', 'Convertible Car', 'Dream Camper', 'Dream Closet', 'Color Reveal Doll', 'Pool Party Set', 'Malibu Doll', 'Chelsea Doll']),
  line('Mattel', 'Mattel', 'dolls', 'Polly Pocket', ['5-7y'], [9.99, 59.99], 2, 3, 'mattel', ['Compact Playset', 'Theme Park', 'Pollyville Mansion', 'Micro Doll Pack']),
  line('Mattel', 'Mattel', 'dolls', 'Monster High', ['5-7y', '8-11y'], [19.99, 89.99], 2, 3, 'mattel', ['Draculaura Doll', 'Frankie Stein Doll', 'Haunted High School', 'Skulltimate Secrets']),
  line('Mattel', 'Mattel', 'games & puzzles', 'UNO', ['5-7y', '8-11y', '12y+'], [5.99, 24.99], 5, 3, 'mattel', ['UNO Classic', 'UNO Flip', "UNO Show 'em No Mercy", 'Giant UNO', 'UNO Attack', 'UNO All Wild']),
  line('Hot Wheels', 'Mattel', 'vehicles', 'Basics', ['3-4y', '5-7y', '8-11y'], [1.29, 24.99], 8, 8, 'mattel', ['Die-Cast Car', '5-Pack', '10-Pack', '20-Car Gift Pack', 'Premium Car', 'Car Culture']),
  line('Hot Wheels', 'Mattel', 'vehicles', 'Track Builder', ['5-7y', '8-11y'], [19.99, 129.99], 4, 5, 'mattel', ['Loop Kit', 'Stunt Box', 'City Garage', 'Mega Garage', 'Ultimate Garage', 'Action Track Set']),
  line('Hot Wheels', 'Mattel', 'vehicles', 'Monster Trucks', ['3-4y', '5-7y'], [4.99, 49.99], 3, 4, 'mattel', ['Bone Shaker', 'Mega Wrex', 'Arena Smashers', '1:24 Monster Truck', 'Glow in the Dark Truck']),
  line('Matchbox', 'Mattel', 'vehicles', 'Matchbox', ['3-4y', '5-7y'], [1.29, 59.99], 2, 4, 'mattel', ['Action Drivers Fire Station', 'Car Wash', '5-Pack', 'Die-Cast Truck', 'Cargo Hauler']),
  line('Fisher-Price', 'Mattel', 'infant & preschool', 'Laugh & Learn', ['0-12m', '1-2y'], [9.99, 59.99], 5, 6, 'mattel', ['Smart Stages Puppy', 'Learning Laptop', 'Around the Town Activity Table', 'Learn with Me Walker', 'Counting Kitty', 'Smart Remote']),
  line('Fisher-Price', 'Mattel', 'infant & preschool', 'Little People', ['1-2y', '3-4y'], [7.99, 69.99], 3, 4, 'mattel', ['Caring for Animals Farm', 'School Bus', 'Everyday Adventures Airplane', 'Figure Pack', 'Disney Princess Castle']),
  line('Fisher-Price', 'Mattel', 'baby gear', 'Baby Gear', ['0-12m'], [29.99, 199.99], 3, 4, 'mattel', ['Infant-to-Toddler Rocker', 'Snugapuppy Swing', 'Kick & Play Piano Gym', 'Deluxe Jumperoo', 'Sit-Me-Up Floor Seat']),
  line('Hasbro', 'Hasbro', 'games & puzzles', 'Monopoly', ['8-11y', '12y+'], [9.99, 44.99], 4, 4, 'hasbro', ['Monopoly Classic', 'Monopoly Junior', 'Monopoly Deal', 'Monopoly Star Wars Edition', 'Monopoly Ultimate Banking']),
  line('Hasbro', 'Hasbro', 'games & puzzles', 'Hasbro Gaming', ['5-7y', '8-11y'], [9.99, 29.99], 4, 5, 'hasbro', ['Connect 4', 'Guess Who?', 'Operation', 'Candy Land', 'Jenga', 'Battleship', 'Trouble', 'Clue']),
  line('Hasbro', 'Hasbro', 'action figures', 'Transformers', ['5-7y', '8-11y'], [9.99, 79.99], 4, 5, 'hasbro', ['Optimus Prime', 'Bumblebee', 'Megatron', 'Studio Series Figure', 'Rise of the Beasts Pack']),
  line('Hasbro', 'Hasbro', 'action figures', 'Marvel Legends', ['12y+'], [24.99, 89.99], 3, 4, 'hasbro', ['Spider-Man Figure', 'Captain America Figure', 'Wolverine Figure', 'Deadpool Figure', 'X-Men Pack']),
  line('Hasbro', 'Hasbro', 'arts & crafts', 'Play-Doh', ['3-4y', '5-7y'], [2.99, 29.99], 6, 5, 'hasbro', ['4-Pack', 'Kitchen Creations', 'Dentist Set', 'Swirlin Soft Serve Set', 'Modeling Compound 10-Pack', 'Dino Crew Set']),
  line('Hasbro', 'Hasbro', 'infant & preschool', 'Peppa Pig', ['3-4y'], [9.99, 59.99], 3, 4, 'hasbro', ["Peppa's Family Home", 'Figure Pack', 'Campervan', 'Muddy Puddles Playset']),
  line('Nerf', 'Hasbro', 'outdoor', 'Elite 2.0', ['8-11y', '12y+'], [9.99, 59.99], 5, 5, 'hasbro', ['Commander Blaster', 'Motoblitz Blaster', 'Volt Blaster', '50-Dart Refill', 'Eaglepoint Blaster']),
  line('Nerf', 'Hasbro', 'outdoor', 'Fortnite', ['8-11y', '12y+'], [14.99, 69.99], 2, 3, 'hasbro', ['Pump SG', 'Heavy SR', 'Blue Shock', 'Ranger Blaster']),
  line('Nerf', 'Hasbro', 'outdoor', 'Super Soaker', ['5-7y', '8-11y'], [7.99, 39.99], 1, 3, 'hasbro', ['Soakzooka', 'XP50', 'Rainstorm', 'Scatter Blast']),
  line('Graco', 'Newell Brands', 'baby gear', 'Strollers', ['0-12m'], [99.99, 399.99], 3, 5, 'numeric', ['Modes Travel System', 'Verb Stroller', 'FastAction Jogger', 'Ready2Grow Double Stroller', 'NimbleLite Stroller']),
  line('Graco', 'Newell Brands', 'baby gear', 'Car Seats', ['0-12m', '1-2y', '3-4y'], [59.99, 349.99], 3, 5, 'numeric', ['4Ever DLX 4-in-1 Car Seat', 'SnugRide Infant Car Seat', 'Extend2Fit Convertible Car Seat', 'TurboBooster Highback', 'SlimFit3 LX']),
  line('Graco', 'Newell Brands', 'baby gear', "Pack 'n Play", ['0-12m', '1-2y'], [59.99, 249.99], 2, 3, 'numeric', ["Pack 'n Play Playard", "Pack 'n Play Dreamer", 'Portable Napper', 'Travel Dome']),
  line('Chicco', 'Artsana', 'baby gear', 'KeyFit', ['0-12m'], [149.99, 399.99], 1, 3, 'numeric', ['KeyFit 35 Infant Car Seat', 'Bravo Trio Travel System', 'Fit2 Car Seat']),
  line('Melissa & Doug', 'Spin Master', 'games & puzzles', 'Wooden Puzzles', ['1-2y', '3-4y'], [9.99, 24.99], 3, 4, 'numeric', ['Chunky Puzzle', 'Sound Puzzle', 'Pattern Blocks', 'Floor Puzzle']),
  line('Melissa & Doug', 'Spin Master', 'infant & preschool', 'Pretend Play', ['3-4y', '5-7y'], [14.99, 149.99], 3, 5, 'numeric', ['Fresh Mart Grocery Store', 'Wooden Kitchen', 'Doctor Kit', 'Cash Register', 'Food Truck', 'Let\'s Play House Set']),
  line('Melissa & Doug', 'Spin Master', 'arts & crafts', 'Water Wow!', ['3-4y'], [4.99, 14.99], 2, 3, 'numeric', ['Water Wow! Animals', 'Water Wow! Vehicles', 'Water Wow! Alphabet']),
  line('Crayola', 'Hallmark', 'arts & crafts', 'Crayola', ['3-4y', '5-7y', '8-11y'], [2.99, 39.99], 5, 6, 'numeric', ['64 Crayons', 'Washable Markers', 'Inspiration Art Case', 'Color Wonder Set', 'Light-Up Tracing Pad', 'Scribble Scrubbie Pets']),
  line('Squishmallows', 'Jazwares', 'plush', 'Squishmallows', ['3-4y', '5-7y', '8-11y', '12y+'], [6.99, 49.99], 7, 8, 'numeric', ['8 inch Squishmallow', '12 inch Squishmallow', '16 inch Squishmallow', '24 inch Jumbo Squishmallow', 'Holiday Squad', 'Hug Mees', 'Stackables']),
  line('Ty', 'Ty Inc.', 'plush', 'Beanie Boos', ['3-4y', '5-7y'], [5.99, 24.99], 3, 5, 'numeric', ['Beanie Boo Regular', 'Beanie Boo Medium', 'Beanie Boo Large', 'Flippables']),
  line('Jellycat', 'Jellycat', 'plush', 'Jellycat', ['0-12m', '1-2y', '12y+'], [19.99, 69.99], 2, 4, 'numeric', ['Bashful Bunny', 'Amuseable Avocado', 'Bartholomew Bear', 'Fuddlewuddle Lion']),
  line('Nintendo', 'Nintendo', 'video games', 'Nintendo Switch', ['8-11y', '12y+'], [29.99, 349.99], 7, 7, 'numeric', ['Mario Kart 8 Deluxe', 'Animal Crossing: New Horizons', 'Super Mario Bros. Wonder', 'Pokemon Scarlet', 'Zelda: Tears of the Kingdom', 'Switch OLED Console', 'Switch Lite', 'Joy-Con Pair', 'Pro Controller', 'Splatoon 3']),
  line('Pokemon', 'The Pokemon Company', 'games & puzzles', 'Pokemon TCG', ['8-11y', '12y+'], [4.99, 59.99], 5, 5, 'numeric', ['Booster Bundle', 'Elite Trainer Box', 'Booster Pack', 'Collection Box', 'Battle Deck']),
  line('PlayStation', 'Sony', 'video games', 'PlayStation 5', ['12y+'], [29.99, 499.99], 3, 5, 'numeric', ['PS5 Console', 'DualSense Controller', "Marvel's Spider-Man 2", 'EA Sports FC 25', 'Astro Bot']),
  line('Little Tikes', 'MGA Entertainment', 'outdoor', 'Outdoor Play', ['1-2y', '3-4y'], [29.99, 299.99], 2, 4, 'numeric', ['Cozy Coupe', 'First Slide', 'Jungle Climber', 'Water Table', 'Easy Score Basketball Set']),
  line('Radio Flyer', 'Radio Flyer', 'outdoor', 'Wagons & Trikes', ['1-2y', '3-4y', '5-7y'], [39.99, 199.99], 2, 3, 'numeric', ['Classic Red Wagon', 'Classic Tricycle', 'Balance Bike', 'Folding Wagon']),
  line('Razor', 'Razor USA', 'outdoor', 'Scooters', ['5-7y', '8-11y', '12y+'], [29.99, 299.99], 2, 3, 'numeric', ['A Kick Scooter', 'Hovertrax', 'E100 Electric Scooter', 'Pocket Mod']),
  line('Ravensburger', 'Ravensburger', 'games & puzzles', 'Puzzles', ['5-7y', '8-11y', '12y+'], [9.99, 49.99], 2, 4, 'numeric', ['1000 Piece Puzzle', '500 Piece Puzzle', '100 Piece Kids Puzzle', '3D Puzzle', 'Labyrinth']),
  line('Spin Master', 'Spin Master', 'vehicles', 'PAW Patrol', ['3-4y', '5-7y'], [7.99, 99.99], 6, 6, 'numeric', ['Lookout Tower', "Chase's Cruiser", 'Marshall Fire Truck', 'Figure Gift Pack', 'Mighty Pups Vehicle', 'Aircraft Carrier HQ']),
  line('Spin Master', 'Spin Master', 'dolls', "Gabby's Dollhouse", ['3-4y', '5-7y'], [9.99, 79.99], 3, 4, 'numeric', ['Purrfect Dollhouse', 'Cat-tivity Pack', 'Figure Set', 'Carlita Car']),
  line('Spin Master', 'Spin Master', 'plush', 'Hatchimals', ['5-7y'], [9.99, 69.99], 2, 3, 'numeric', ['Alive Egg', 'CollEGGtibles Pack', 'Mystery Hatch']),
  line('L.O.L. Surprise!', 'MGA Entertainment', 'dolls', 'L.O.L. Surprise!', ['5-7y', '8-11y'], [9.99, 99.99], 4, 5, 'numeric', ['OMG Fashion Doll', 'Surprise Ball', 'Doll House', 'Tots Pack', 'Mini Family']),
  line('Funko', 'Funko', 'action figures', 'Pop!', ['12y+'], [9.99, 34.99], 3, 5, 'numeric', ['Pop! Vinyl Figure', 'Pop! Deluxe', 'Pop! Keychain', 'Pop! 10 inch']),
  line('VTech', 'VTech', 'infant & preschool', 'VTech Learning', ['0-12m', '1-2y', '3-4y'], [14.99, 69.99], 3, 4, 'numeric', ['Sit-to-Stand Learning Walker', 'KidiZoom Camera', 'Touch & Learn Activity Desk', 'Go! Go! Smart Wheels Garage']),
];

/** Store formats; online stores here are third-party marketplaces reporting daily (own web and app orders come as a stream). */
export const STORE_FORMATS = ['mall', 'standalone', 'outlet', 'online'] as const;
export type StoreFormat = (typeof STORE_FORMATS)[number];

export interface City {
  city: string;
  state: string;
  region: string;
  /** Relative number of stores (roughly metro population, in millions). */
  weight: number;
}

const city = (cityName: string, state: string, region: string, weight: number): City => ({ city: cityName, state, region, weight });

export const CITIES: readonly City[] = [
  city('New York', 'NY', 'Northeast', 19), city('Buffalo', 'NY', 'Northeast', 1.1), city('Albany', 'NY', 'Northeast', 0.9),
  city('Philadelphia', 'PA', 'Northeast', 6.2), city('Pittsburgh', 'PA', 'Northeast', 2.4), city('Boston', 'MA', 'Northeast', 4.9),
  city('Newark', 'NJ', 'Northeast', 2.1), city('Paramus', 'NJ', 'Northeast', 1.2), city('Hartford', 'CT', 'Northeast', 1.2),
  city('Providence', 'RI', 'Northeast', 1.6), city('Baltimore', 'MD', 'Northeast', 2.8), city('Portland', 'ME', 'Northeast', 0.6),
  city('Atlanta', 'GA', 'Southeast', 6.1), city('Miami', 'FL', 'Southeast', 6.1), city('Orlando', 'FL', 'Southeast', 2.7),
  city('Tampa', 'FL', 'Southeast', 3.2), city('Jacksonville', 'FL', 'Southeast', 1.6), city('Charlotte', 'NC', 'Southeast', 2.7),
  city('Raleigh', 'NC', 'Southeast', 1.4), city('Nashville', 'TN', 'Southeast', 2), city('Memphis', 'TN', 'Southeast', 1.3),
  city('Richmond', 'VA', 'Southeast', 1.3), city('Virginia Beach', 'VA', 'Southeast', 1.8), city('Birmingham', 'AL', 'Southeast', 1.1),
  city('New Orleans', 'LA', 'Southeast', 1.3), city('Louisville', 'KY', 'Southeast', 1.3), city('Charleston', 'SC', 'Southeast', 0.8),
  city('Chicago', 'IL', 'Midwest', 9.5), city('Detroit', 'MI', 'Midwest', 4.3), city('Grand Rapids', 'MI', 'Midwest', 1.1),
  city('Minneapolis', 'MN', 'Midwest', 3.7), city('Bloomington', 'MN', 'Midwest', 0.4), city('Columbus', 'OH', 'Midwest', 2.1),
  city('Cleveland', 'OH', 'Midwest', 2.1), city('Cincinnati', 'OH', 'Midwest', 2.2), city('Indianapolis', 'IN', 'Midwest', 2.1),
  city('Milwaukee', 'WI', 'Midwest', 1.6), city('St. Louis', 'MO', 'Midwest', 2.8), city('Kansas City', 'MO', 'Midwest', 2.2),
  city('Omaha', 'NE', 'Midwest', 1), city('Des Moines', 'IA', 'Midwest', 0.7),
  city('Houston', 'TX', 'Southwest', 7.1), city('Dallas', 'TX', 'Southwest', 7.6), city('San Antonio', 'TX', 'Southwest', 2.6),
  city('Austin', 'TX', 'Southwest', 2.3), city('El Paso', 'TX', 'Southwest', 0.9), city('Phoenix', 'AZ', 'Southwest', 4.9),
  city('Tucson', 'AZ', 'Southwest', 1), city('Albuquerque', 'NM', 'Southwest', 0.9), city('Oklahoma City', 'OK', 'Southwest', 1.4),
  city('Las Vegas', 'NV', 'Southwest', 2.3),
  city('Los Angeles', 'CA', 'West', 13.2), city('San Diego', 'CA', 'West', 3.3), city('San Jose', 'CA', 'West', 2), city('San Francisco', 'CA', 'West', 4.7),
  city('Sacramento', 'CA', 'West', 2.4), city('Fresno', 'CA', 'West', 1), city('Seattle', 'WA', 'West', 4), city('Spokane', 'WA', 'West', 0.6),
  city('Portland', 'OR', 'West', 2.5), city('Denver', 'CO', 'West', 3), city('Salt Lake City', 'UT', 'West', 1.3), city('Boise', 'ID', 'West', 0.8),
  city('Honolulu', 'HI', 'West', 1), city('Anchorage', 'AK', 'West', 0.4),
];

/** Names of malls and shopping centres, combined with a city to name a store. */
export const MALL_NAMES = ['Galleria', 'Town Center', 'Crossroads', 'Fashion Place', 'Commons', 'Square', 'Mall', 'Marketplace', 'Promenade', 'Park Mall', 'Pavilion', 'Center'];
export const STREET_NAMES = ['Main St', 'Route 1', 'Highway 6', 'Oak Ave', 'Commerce Blvd', 'Market St', 'Broad St', 'Lakeview Rd', 'Industrial Pkwy', 'Elm St', 'River Rd', 'Central Ave'];
export const MARKETPLACES = ['Amazon Marketplace', 'Walmart Marketplace', 'eBay Store', 'Target Plus', 'TikTok Shop'];

/**
 * The hot ids of the skew case: three flagships whose point-of-sale systems also book
 * ship-from-store and event sales, together well over half of all sales lines.
 */
export const FLAGSHIPS = [
  { storeId: 17, name: 'Times Square Flagship', city: 'New York', state: 'NY', region: 'Northeast', format: 'standalone', share: 0.27, opened: '2001-11-17' },
  { storeId: 31, name: 'Mall of America Flagship', city: 'Bloomington', state: 'MN', region: 'Midwest', format: 'mall', share: 0.19, opened: '1992-08-11' },
  { storeId: 54, name: 'Las Vegas Strip Flagship', city: 'Las Vegas', state: 'NV', region: 'Southwest', format: 'standalone', share: 0.14, opened: '2012-06-01' },
] as const;

export const PAYMENT_TYPES = ['card', 'cash', 'mobile', 'gift_card'] as const;
/** Shares of payment types at tills (cash keeps a sizeable share in toy stores: children's pocket money, gifts). */
export const PAYMENT_WEIGHTS = [0.62, 0.18, 0.12, 0.08];
