// `npm run build` and friends call this first: install dependencies if they are missing.
import { ensureDependencies } from './lib.mjs';

await ensureDependencies();
