// The committed sample's data set, generated again into a folder (`npx tsx examples/retail-sales/generate-sample.ts DIR`).
import { generateRetail, PRESETS } from './generators/index.js';

const out = process.argv[2] ?? 'retail-sample';
const result = await generateRetail({ ...PRESETS.sample, out, overwrite: true, onProgress: (p) => console.log(p) });
console.log(`${result.rows} sales lines in ${result.files.length} files, ${result.bytes} bytes, in ${result.seconds.toFixed(1)} s → ${out}`);
