import { defineConfig } from 'prisma/config';

// Used only by the Prisma CLI (generate, and migrate for users who have its
// engine). Gatehouse itself applies prisma/migrations at start.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? '' },
});
