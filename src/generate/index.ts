export { generateEcommerce, ECOMMERCE_HEADER, NOVEMBER_2019, type GenerateEcommerceOptions, type GenerateResult } from './ecommerce.js';
