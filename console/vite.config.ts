import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

// Two pages share one build: the console (/console/) and the IDE (served by the API at GET /graphql).
// Everything is bundled from node_modules, so neither page loads anything from another host.
export default defineConfig({
  root: here('.'),
  base: '/console/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'react' } },
  // `vite --config console/vite.config.ts` for hot reload, against the API running on its default port.
  server: { proxy: { '/graphql': { target: 'http://localhost:4000', ws: true } } },
  build: {
    outDir: here('../dist/console'),
    emptyOutDir: true,
    // GraphiQL's editor (Monaco) is large by nature; it loads only on the IDE page.
    chunkSizeWarningLimit: 5000,
    rolldownOptions: {
      input: { console: here('index.html'), ide: here('ide/index.html') },
      // GraphiQL's dependencies mark React server-component boundaries ("use client"), which mean nothing here.
      onLog(level, log, handler) {
        if (log.code !== 'MODULE_LEVEL_DIRECTIVE') handler(level, log);
      },
    },
  },
});
