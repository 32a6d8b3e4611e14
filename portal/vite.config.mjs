// The tenant portal: a Preact single-page app built into portal/dist, which the API serves under /portal/.
import { URL, fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/portal/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The CSP allows scripts from 'self' only: no inline module-preload polyfill.
    modulePreload: { polyfill: false },
    target: 'es2020',
  },
});
