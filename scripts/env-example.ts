/**
 * `npm run env-example`: writes .env.example from src/app/config-table.ts (the test
 * suite fails when the checked-in file differs from what this writes).
 */
import { writeFileSync } from 'node:fs';
import { renderEnvExample } from '../src/app/config-table.js';

writeFileSync(new URL('../.env.example', import.meta.url), renderEnvExample());
