import {defineConfig} from 'vite';

// One small bundle served by `bmslink serve` from the binary: no CDN, nothing fetched from
// elsewhere, so the console works in a garage without a network.
export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2020',
    sourcemap: false,
    assetsInlineLimit: 0,
  },
});
