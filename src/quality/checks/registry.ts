import { acceptedValuesCheck } from './accepted-values.js';
import { minRowsCheck } from './min-rows.js';
import { notNullCheck } from './not-null.js';
import { relationshipsCheck } from './relationships.js';
import { sqlCheck } from './sql.js';
import { uniqueCheck } from './unique.js';

/** Every check kind Tributary ships; a project's `checks` name one of these (or one it registers) by `test`. */
export const checks = [notNullCheck, uniqueCheck, acceptedValuesCheck, relationshipsCheck, minRowsCheck, sqlCheck] as const;
