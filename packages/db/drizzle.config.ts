import { defineConfig } from 'drizzle-kit';

// Used only at development time: `npm run db:generate` diffs src/schema.ts against the
// committed snapshots and writes the next SQL migration into ./migrations.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/schema.ts',
  out: './migrations',
});
