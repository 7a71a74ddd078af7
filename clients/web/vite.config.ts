import { defineConfig } from 'vite';

// Preact through Vite's built-in Oxc JSX transform: no Babel preset is needed.
// The output must run under the gateway's strict CSP: no inline script or style, so Vite's
// module preload polyfill (an inline script) is off and CSS is emitted as a file.
export default defineConfig({
  root: import.meta.dirname,
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: { polyfill: false },
    cssCodeSplit: false,
    assetsInlineLimit: 0,
    sourcemap: true,
  },
  server: { proxy: { '/v1': 'http://127.0.0.1:8080', '/ws': { target: 'ws://127.0.0.1:8080', ws: true } } },
});
